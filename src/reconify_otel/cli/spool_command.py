"""``reconify-otel spool list|drain|purge``: see and settle what waits on disk.

Payloads are spooled per app key and endpoint and only ever resent there, so what was
spooled for a wrong endpoint waits until its retention ends; ``drain`` sends one
partition to the endpoint configured now (``RECONIFY_*``), ``purge`` deletes it.
All three look through the spool's own safe layer (``delivery.spool_inventory``): no
symlink below ``spool_dir`` is followed, no folder or file of another user's is used, and
what is passed over is said; an action refused exits nonzero.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconify_otel.delivery.spool_inventory import Inventory, Partition

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


def base_directory() -> Path:
    from reconify_otel.delivery.spool import default_directory
    from reconify_otel.delivery.spool_fs import user_directory

    configured = os.environ.get("RECONIFY_SPOOL_DIR")
    return user_directory(Path(configured) if configured else default_directory())


def run(args: argparse.Namespace) -> int:
    base = base_directory()
    if args.spool_action == "list":
        print(f"spool: {base}")
    found = _inventory(base, args.spool_action)
    if found is None:
        return 2
    if args.spool_action == "list":
        return _list(found)
    if args.spool_action == "purge":
        return _purge(found, None if args.all else args.partition)
    return _drain(found, args.partition)


def _inventory(base: Path, action: str) -> Inventory | None:
    """What waits in ``base``, through the spool's own safe layer; None (said why) when
    ``base`` is refused: another user's, a symlink, open to other users' writes."""
    from reconify_otel.delivery.spool import DEFAULT_MAX_BYTES
    from reconify_otel.delivery.spool_fs import SpoolUnavailable
    from reconify_otel.delivery.spool_inventory import inventory
    from reconify_otel.settings import OPTIONS

    (cap,) = [o for o in OPTIONS if o.name == "spool_max_bytes"]
    try:
        return inventory(base, cap.parse(None, cap.env, DEFAULT_MAX_BYTES, cap.name))
    except (SpoolUnavailable, ValueError) as error:
        _error(action, str(error))
    except OSError as error:
        _error(action, f"{error.filename or base}: {error.strerror}")
    return None


def _error(action: str, message: str) -> None:
    print(f"reconify-otel spool {action}: error: {message}", file=sys.stderr)


def _shown(name: str) -> str:
    """A name from the disk, printable on one line."""
    return name if name.isprintable() else repr(name)


def _list(found: Inventory) -> int:
    if not found.partitions:
        print("nothing waiting")
    now = time.time()
    for part in found.partitions:
        age = f"{(now - part.oldest) / 3600:.1f} h" if part.oldest is not None else "-"
        print(
            f"{part.path.name}  {part.payloads} payloads in {part.files} files, "
            f"oldest {age}, for {part.endpoint}"
        )
        for name, why in part.skipped:
            print(f"  skipped {_shown(name)}: {why}")
    for name, why in found.skipped:
        print(f"skipped {_shown(name)}: {why}")
    skipped = len(found.skipped) + sum(len(part.skipped) for part in found.partitions)
    if skipped:
        print(f"{skipped} entries skipped: never read, sent or purged")
    return 0


def _chosen(found: Inventory, name: str | None, action: str) -> tuple[list[Partition], int]:
    """The partitions to act on, and the exit status so far: 1 when ``--all`` passes
    over some (each said), 2 when the one named is unknown or refused (none chosen)."""
    if name is None:
        for entry, why in found.skipped:
            print(f"reconify-otel spool {action}: skipped {_shown(entry)}: {why}", file=sys.stderr)
        return found.partitions, 1 if found.skipped else 0
    chosen = [p for p in found.partitions if p.path.name == name]
    if not chosen:
        refused = [why for entry, why in found.skipped if entry == name]
        _error(
            action,
            f"partition {name!r}: {refused[0]}; not touched"
            if refused
            else f"no partition {name!r} in {found.folder}",
        )
        return [], 2
    return chosen, 0


def _purge(found: Inventory, name: str | None) -> int:
    from reconify_otel.delivery.spool_fs import SpoolUnavailable
    from reconify_otel.delivery.spool_inventory import remove

    chosen, code = _chosen(found, name, "purge")
    for part in chosen:
        try:
            kept = remove(found.folder, part.path.name)
        except (SpoolUnavailable, OSError) as error:
            _error("purge", f"{part.path.name}: {error}; not touched")
            code = 2
            continue
        print(f"purged {part.path.name}: {part.payloads} payloads for {part.endpoint}")
        if kept:
            left = ", ".join(f"{_shown(entry)} ({why})" for entry, why in kept)
            _error("purge", f"{part.path.name}: left in place: {left}")
            code = code or 1
    return code


def _drain(found: Inventory, name: str | None) -> int:
    from reconify_otel.delivery.durable import DurableSender
    from reconify_otel.delivery.spool import Spool, SpoolUnavailable
    from reconify_otel.prepare import Preparer
    from reconify_otel.runtime.counters import delivery_counters
    from reconify_otel.settings import resolve

    chosen, code = _chosen(found, name, "drain")
    if code == 2:
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
    return 0 if complete and not code else 1
