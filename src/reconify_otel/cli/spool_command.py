"""``reconify-otel spool list|drain|purge``: see and settle what waits on disk.

Payloads are spooled per app key and endpoint and only ever resent there, so what was
spooled for a wrong endpoint waits until its retention ends; ``drain`` sends one
partition to the endpoint configured now (``RECONIFY_*``), ``purge`` deletes it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Plain text for --help (the module docstring is reStructuredText).
_DESCRIPTION = (
    "Payloads are spooled per app key and endpoint and only ever resent there, so what was "
    "spooled for a wrong endpoint waits until its retention ends. list shows each "
    "partition; drain sends partitions to the endpoint configured now (RECONIFY_*); purge "
    "deletes them."
)
_EPILOG = (
    "The spool is RECONIFY_SPOOL_DIR, else ~/.cache/reconify-otel/spool; drain sends to "
    "RECONIFY_ENDPOINT with RECONIFY_APP_KEY and RECONIFY_API_KEY."
)


def add_parser(subparsers: Any) -> None:
    spool = subparsers.add_parser(
        "spool",
        help="list, drain or purge payloads waiting in the local spool",
        description=_DESCRIPTION,
        epilog=_EPILOG,
    )
    actions = spool.add_subparsers(dest="spool_action", required=True)
    actions.add_parser("list", help="print the spool's path and each partition's payloads")
    drain = actions.add_parser("drain", help="send a partition to the configured endpoint")
    drain.add_argument(
        "partition", nargs="?", help="a partition name that list shows; all when omitted"
    )
    purge = actions.add_parser("purge", help="delete a partition's payloads")
    which = purge.add_mutually_exclusive_group(required=True)
    which.add_argument("partition", nargs="?", help="a partition name that list shows")
    which.add_argument("--all", action="store_true", help="every partition")


@dataclass(frozen=True)
class Partition:
    path: Path
    files: int
    payloads: int
    oldest: float | None  # mtime of the oldest file
    endpoint: str


def base_directory() -> Path:
    from reconify_otel.delivery.spool import default_directory
    from reconify_otel.delivery.spool_fs import user_directory

    configured = os.environ.get("RECONIFY_SPOOL_DIR")
    return user_directory(Path(configured) if configured else default_directory())


def partitions(base: Path) -> list[Partition]:
    from reconify_otel.delivery.spool import ENDPOINT_FILE, SUFFIX

    found = []
    for path in sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []:
        files = sorted(path.glob(f"*{SUFFIX}"))
        payloads, times = 0, []
        for file in files:
            try:
                payloads += sum(1 for line in file.read_bytes().splitlines() if line.strip())
                times.append(file.stat().st_mtime)
            except OSError:
                continue
        try:
            endpoint = (path / ENDPOINT_FILE).read_text().strip()
        except OSError:
            endpoint = "(unknown)"
        found.append(Partition(path, len(files), payloads, min(times, default=None), endpoint))
    return found


def run(args: argparse.Namespace) -> int:
    base = base_directory()
    if args.spool_action == "list":
        return _list(base)
    if args.spool_action == "purge":
        return _purge(base, None if args.all else args.partition)
    return _drain(base, args.partition)


def _list(base: Path) -> int:
    print(f"spool: {base}")
    found = partitions(base)
    if not found:
        print("nothing waiting")
    now = time.time()
    for part in found:
        age = f"{(now - part.oldest) / 3600:.1f} h" if part.oldest is not None else "-"
        print(
            f"{part.path.name}  {part.payloads} payloads in {part.files} files, "
            f"oldest {age}, for {part.endpoint}"
        )
    return 0


def _chosen(base: Path, name: str | None) -> list[Partition] | None:
    found = partitions(base)
    if name is None:
        return found
    chosen = [p for p in found if p.path.name == name]
    if not chosen:
        print(f"reconify-otel spool: error: no partition {name!r} in {base}", file=sys.stderr)
        return None
    return chosen


def _purge(base: Path, name: str | None) -> int:
    chosen = _chosen(base, name)
    if chosen is None:
        return 2
    for part in chosen:
        for file in part.path.iterdir():
            file.unlink(missing_ok=True)
        part.path.rmdir()
        print(f"purged {part.path.name}: {part.payloads} payloads for {part.endpoint}")
    return 0


def _drain(base: Path, name: str | None) -> int:
    from reconify_otel.delivery.durable import DurableSender
    from reconify_otel.delivery.spool import Spool, SpoolUnavailable
    from reconify_otel.prepare import Preparer
    from reconify_otel.runtime.counters import delivery_counters
    from reconify_otel.settings import resolve

    chosen = _chosen(base, name)
    if chosen is None:
        return 2
    try:
        settings = resolve(spool=False)  # the endpoint and keys configured now
    except (TypeError, ValueError) as error:
        print(f"reconify-otel spool drain: error: {error}", file=sys.stderr)
        return 2
    counters = delivery_counters("spool-command")
    sender = DurableSender(settings, counters, Preparer(settings, counters))
    complete = True
    try:
        for part in chosen:
            try:
                spool = Spool(part.path, counters, endpoint=part.endpoint)
            except SpoolUnavailable as error:
                print(f"reconify-otel spool drain: error: {error}", file=sys.stderr)
                return 2
            before = counters.snapshot()
            done = sender.drain(spool)
            spool.remove_if_empty()
            after = counters.snapshot()
            sent = after["resent_accepted"] - before["resent_accepted"]
            refused = after["resent_rejected"] - before["resent_rejected"]
            print(
                f"{part.path.name}: {sent} of {part.payloads} payloads sent to "
                f"{sender.endpoint}, {refused} rejected"
                + ("" if done else "; the endpoint failed, the rest still waits")
            )
            complete = complete and done
    finally:
        sender.close(1.0)
    return 0 if complete else 1
