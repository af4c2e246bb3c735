"""The distributions as an index and a user get them: every wheel of the repository built,
its metadata free of direct-URL dependencies, and ``reconify-otel[demo]`` installed from the
wheel into a fresh virtual environment, where ``demo`` and ``sink`` run.

No network: the wheels are built without build isolation, the fresh venv gets the wheel
with ``--no-index --no-deps``, and the third-party packages its extras name are those of
the current venv, appended to the fresh venv's path by a ``.pth`` line (after its own
site-packages, so ``reconify_otel`` comes from the wheel, never from ``src/``).
"""

from __future__ import annotations

import email
import json
import subprocess
import sys
import sysconfig
import venv
import zipfile
from email.message import Message
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from .sink_command import post_once

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = sorted(
    path.parent
    for path in ROOT.rglob("pyproject.toml")
    if not any(part.startswith(".") or part in ("node_modules", "build") for part in path.parts)
)

PIP = [sys.executable, "-m", "pip", "--quiet"]
pytestmark = [pytest.mark.packaging, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every project's wheel, built once for the module: {distribution name: wheel}."""
    folder = tmp_path_factory.mktemp("wheels")
    for project in PROJECTS:
        done = subprocess.run(
            [*PIP, "wheel", "--no-deps", "--no-build-isolation", "-w", str(folder), str(project)],
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    return {metadata(wheel)["Name"]: wheel for wheel in sorted(folder.glob("*.whl"))}


def metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(name))


@pytest.fixture(scope="module")
def fresh(wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv holding the reconify-otel wheel; the current venv's packages behind it."""
    home = tmp_path_factory.mktemp("fresh") / "venv"
    venv.EnvBuilder(with_pip=False).create(home)
    python = home / "bin" / "python"
    wheel = wheels["reconify-otel"]
    done = subprocess.run(
        [*PIP, "--python", str(python), "install", "--no-index", "--no-deps", str(wheel)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "zz_third_party.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return home


def test_the_repository_builds_a_wheel_per_project(wheels: dict[str, Path]) -> None:
    assert [p.relative_to(ROOT).as_posix() for p in PROJECTS] == [
        ".",
        "tests/reconify-otel-testing",
    ]
    assert sorted(wheels) == ["reconify-otel", "reconify-otel-testing"]


def test_no_wheel_has_a_direct_url_dependency(wheels: dict[str, Path]) -> None:
    for name, wheel in wheels.items():
        requires = metadata(wheel).get_all("Requires-Dist") or []
        assert requires, name
        direct = [r for r in requires if Requirement(r).url is not None or " @ " in r]
        assert direct == [], f"{name}: an index refuses direct references"


def test_the_extras_name_third_party_packages_by_range(wheels: dict[str, Path]) -> None:
    requires = [Requirement(r) for r in metadata(wheels["reconify-otel"]).get_all("Requires-Dist")]

    def extra(name: str) -> set[str]:
        return {
            r.name for r in requires if r.marker is not None and r.marker.evaluate({"extra": name})
        }

    assert extra("demo") >= {"openai", "opentelemetry-instrumentation-openai", "pyyaml"}
    assert "reconify-otel-testing" not in {r.name for r in requires}
    bridge = {r.name: r for r in requires if r.name in extra("bridge")}
    assert {"uvicorn", "h11"} <= set(bridge)
    assert bridge["uvicorn"].specifier.contains("0.55.0")
    assert not bridge["uvicorn"].specifier.contains("1.0.0")  # bounded to the tested releases


def test_the_wheel_ships_the_stand_ins_and_recordings_not_the_test_doubles(
    wheels: dict[str, Path],
) -> None:
    names = zipfile.ZipFile(wheels["reconify-otel"]).namelist()
    assert all(n.startswith(("reconify_otel/", "reconify_otel-")) for n in names)
    recordings = "reconify_otel/offline/recordings/"
    assert {
        f"{recordings}ATTRIBUTION.md",  # the licence note travels with the recordings
        f"{recordings}openai-assistants/test_new_assistant_with_polling.yaml",
        f"{recordings}openai-assistants/test_streaming_new_assistant.yaml",
        f"{recordings}llm/openai__test_chat__test_chat.yaml",
        f"{recordings}llm/openai__test_responses__test_responses.yaml",
        "reconify_otel/offline/sink.py",
        "reconify_otel/offline/sink_cli.py",
    } <= set(names)
    assert [n for n in names if "simulated" in n or "reconify_otel_testing" in n] == []
    data = [n for n in names if not n.endswith((".py", ".typed")) and ".dist-info/" not in n]
    assert all(n.startswith(recordings) for n in data), data


def test_the_fresh_venv_imports_reconify_otel_from_the_wheel(fresh: Path) -> None:
    probe = "import reconify_otel.offline as o, yaml, openai; print(o.__file__, o.RECORDINGS)"
    done = subprocess.run(
        [str(fresh / "bin" / "python"), "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=fresh,
        check=True,
    )
    module, recordings = done.stdout.split()
    assert module.startswith(str(fresh)) and recordings.startswith(str(fresh))
    assert str(ROOT / "src") not in done.stdout


def test_demo_runs_from_the_installed_wheel(fresh: Path) -> None:
    done = subprocess.run(
        [str(fresh / "bin" / "reconify-otel"), "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=fresh,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == (
        "demo: 4 Reconify payloads received (assistant runs 2, chat calls 1, Responses calls 1), "
        "exporter counters {'accepted': 4}: OK"
    )


def test_sink_runs_from_the_installed_wheel(fresh: Path) -> None:
    payload = {"reconify": {"appKey": "app-secret-1", "apiKey": "api-secret-2"}, "n": 7}
    session = post_once(fresh / "bin" / "reconify-otel", payload, cwd=fresh)
    assert session.answer == {"status": "ok"}
    assert session.returncode == 0, session.err
    shown = session.out.splitlines()
    assert shown[0] == "--- payload 1 (/track) ---"
    assert json.loads("\n".join(shown[1:])) == {
        "n": 7,
        "reconify": {"apiKey": "***", "appKey": "***"},
    }
