#!/usr/bin/env bash
# Build the reconify-otel test Collector with the OpenTelemetry Collector Builder (ocb).
#
#   collector/build.sh                 base distribution -> collector/_build/base/otelcol-reconify
#   collector/build.sh --with-datadog  base + Datadog exporter/connector
#                                      -> collector/_build/datadog/otelcol-reconify
#
# Idempotent: when the binary is newer than its manifest and this script, nothing is done.
# Otherwise the builder is installed (once per version, with `go install`) into a cache
# directory and the distribution is generated and compiled; Go's module and build caches
# make a rebuild on the same machine fast. The last line on stdout is the binary's path;
# everything else goes to stderr.
#
# Needs: Go (>= 1.24) and the Go module proxy (`go env GOPROXY`) for the first build.
# Environment: RECONIFY_COLLECTOR_CACHE  where the builder is installed
#                                        (default ${XDG_CACHE_HOME:-~/.cache}/reconify-otel/collector)
set -euo pipefail

# One release for everything: builder, core (v0.x modules; the stable v1.x modules of the
# same release are v1.67.0) and contrib. Keep in step with the manifests (checked below).
OCB_VERSION=v0.161.0
MIN_GO_MINOR=24

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
variant=base
manifest="$here/builder-config.yaml"

usage() {
    echo "usage: $0 [--with-datadog]" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --with-datadog)
            variant=datadog
            manifest="$here/builder-config-datadog.yaml"
            ;;
        -h | --help) usage ;;
        *) echo "build.sh: unknown argument: $1" >&2; usage ;;
    esac
    shift
done

fail() {
    echo "build.sh: ERROR: $*" >&2
    exit 1
}

log() {
    echo "build.sh: $*" >&2
}

out_dir="$here/_build/$variant"
binary="$out_dir/otelcol-reconify"
stamp="$out_dir/.built"

# --- the manifests name one release ---------------------------------------------------
check_versions() {
    local file="$1" bad
    bad="$(grep -E '^\s*- gomod: ' "$file" | grep -E ' v0\.' | grep -v " $OCB_VERSION\$" || true)"
    [ -z "$bad" ] || fail "$file: every v0.x component must be $OCB_VERSION, not:
$bad"
}
check_versions "$here/builder-config.yaml"
if [ "$variant" = datadog ]; then
    check_versions "$manifest"
    # The Datadog manifest is the base one plus the Datadog components: nothing may drift.
    missing="$(grep -E '^\s*- gomod: ' "$here/builder-config.yaml" \
        | grep -v -F -x -f <(grep -E '^\s*- gomod: ' "$manifest") || true)"
    [ -z "$missing" ] || fail "$manifest lacks base components:
$missing"
fi

# The Datadog build exists to check the full configuration: base + Datadog overlay.
# Dummy values for the variables the files require; nothing is sent anywhere.
validate_full_config() {
    log "validating otel-collector-config.yaml + collector/datadog-overlay.yaml"
    DD_API_KEY="${DD_API_KEY:-validate-only}" \
        RECONIFY_BRIDGE_TOKEN="${RECONIFY_BRIDGE_TOKEN:-validate-only}" \
        "$binary" validate --config "$here/../otel-collector-config.yaml" \
        --config "$here/datadog-overlay.yaml" >&2 \
        || fail "otel-collector-config.yaml + collector/datadog-overlay.yaml do not validate (above)."
}

finish() {
    if [ "$variant" = datadog ]; then
        validate_full_config
    fi
    echo "$binary"
    exit 0
}

# --- up to date? -----------------------------------------------------------------------
if [ -x "$binary" ] && [ -f "$stamp" ] \
    && [ "$stamp" -nt "$manifest" ] && [ "$stamp" -nt "${BASH_SOURCE[0]}" ] \
    && { [ "$variant" = base ] || [ "$stamp" -nt "$here/builder-config.yaml" ]; }; then
    log "up to date: $binary"
    finish
fi

# --- toolchain and module proxy --------------------------------------------------------
command -v go >/dev/null 2>&1 \
    || fail "Go toolchain not found on PATH: building the Collector needs Go 1.$MIN_GO_MINOR or newer (https://go.dev/doc/install) and the Go module proxy."
go_version="$(go env GOVERSION 2>/dev/null || true)"
go_minor="$(printf '%s' "$go_version" | sed -nE 's/^go1\.([0-9]+).*/\1/p')"
[ -n "$go_minor" ] && [ "$go_minor" -ge "$MIN_GO_MINOR" ] \
    || fail "Go 1.$MIN_GO_MINOR or newer is needed to build the Collector; found '${go_version:-unknown}'."
proxy="$(go env GOPROXY)"
if [ -z "$proxy" ] || [ "$proxy" = off ]; then
    fail "GOPROXY is '${proxy:-empty}': the Collector's modules come from the Go module proxy; set GOPROXY (e.g. https://proxy.golang.org,direct)."
fi

cache="${RECONIFY_COLLECTOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reconify-otel/collector}"
ocb_dir="$cache/ocb-$OCB_VERSION"
ocb="$ocb_dir/builder"

mkdir -p "$here/_build" "$cache"
# One build at a time (two pytest sessions, or CI and a developer, on one machine).
exec 9>"$here/_build/.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi

started=$SECONDS

if [ ! -x "$ocb" ]; then
    log "installing the OpenTelemetry Collector Builder $OCB_VERSION into $ocb_dir"
    tmp_bin="$(mktemp -d "$cache/ocb-install.XXXXXX")"
    if ! GOBIN="$tmp_bin" go install "go.opentelemetry.io/collector/cmd/builder@$OCB_VERSION" >&2; then
        rm -rf "$tmp_bin"
        fail "could not install go.opentelemetry.io/collector/cmd/builder@$OCB_VERSION: is the Go module proxy ($proxy) reachable? See the go error above."
    fi
    mkdir -p "$ocb_dir"
    mv "$tmp_bin/builder" "$ocb"
    rm -rf "$tmp_bin"
fi

log "building the $variant distribution ($OCB_VERSION) into $out_dir"
rm -f "$stamp"
# ocb resolves output_path from the working directory; build each variant in its own dir.
cd "$here"
build_log="$here/_build/$variant.log"
if ! GOFLAGS="${GOFLAGS:-} -buildvcs=false" "$ocb" --config "$manifest" >"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    if grep -qE 'proxy|dial tcp|no such host|Forbidden|not available|Not Found|410 Gone' "$build_log"; then
        fail "the $variant Collector could not be built: a Go module could not be fetched from the module proxy ($proxy). Full log: $build_log"
    fi
    fail "the $variant Collector could not be built. Full log: $build_log"
fi
[ -x "$binary" ] || fail "the builder finished but $binary is missing. Log: $build_log"
"$binary" --version >/dev/null 2>&1 || fail "$binary does not run. Log: $build_log"
touch "$stamp"
log "built $binary in $((SECONDS - started)) s ($(du -h "$binary" | cut -f1))"
finish
