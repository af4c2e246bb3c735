"""What waits in this user's spool, and removing it, for ``reconify-otel spool``.

Through the spool's own safe layer (``spool_fs``), as the exporter itself goes: below
``spool_dir`` no symlink is followed, a folder another user owns or can write to is
refused, a file is read or removed only if it is a regular file of this user's (a FIFO
is never opened), reads stop at the spool's size cap, and a purge removes only files
named as the spool names them. Whatever is passed over is said, with why.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from reconify_otel.delivery.spool import ENDPOINT_FILE, SUFFIX, TEMPORARY
from reconify_otel.delivery.spool_fs import (
    SpoolUnavailable,
    open_own,
    open_partition,
    opened_folder,
    read_all,
    remove_own,
)

PARTITION = re.compile(r"[0-9a-f]{16}")  # ``partition_name``
_BATCH = r"\d{20}-\d+-\d+"  # ``Spool.put``: time_ns-pid-seq
# A batch, its bad lines, the endpoint file, and the temporary files they are written as.
SPOOL_FILE = re.compile(
    rf"{_BATCH}(?:{re.escape(SUFFIX)}|\.bad)|{re.escape(ENDPOINT_FILE)}"
    rf"|(?:{_BATCH}{re.escape(SUFFIX)}|{re.escape(ENDPOINT_FILE)})\.\d+\.\d+{re.escape(TEMPORARY)}"
)
_ENDPOINT_BYTES = 4096


Skipped = tuple[str, str]  # (name, why)


@dataclass(frozen=True)
class Partition:
    path: Path
    files: int
    payloads: int
    oldest: float | None  # mtime of the oldest file
    endpoint: str
    skipped: tuple[Skipped, ...] = ()  # its files not read


@dataclass(frozen=True)
class Inventory:
    folder: Path  # ``user_directory(spool_dir)``
    partitions: list[Partition] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)  # its entries not used


def inventory(folder: Path, max_bytes: int) -> Inventory:
    """Each partition of ``folder``, counted. SpoolUnavailable when ``folder`` itself is
    refused (another user's, a symlink, open to others' writes); other OSErrors too."""
    found = Inventory(folder)
    try:
        with opened_folder(folder) as fd:
            for name in sorted(os.listdir(fd)):
                try:
                    found.partitions.append(_counted(fd, folder / name, max_bytes))
                except FileNotFoundError:
                    continue  # delivered and removed meanwhile
                except (SpoolUnavailable, OSError) as error:
                    found.skipped.append((name, _why(error).removeprefix(f"{folder}: {name} ")))
    except FileNotFoundError:
        pass  # nothing spooled yet
    return found


def _why(error: Exception) -> str:
    return error.strerror if isinstance(error, OSError) and error.strerror else str(error)


def _counted(folder: int, path: Path, max_bytes: int) -> Partition:
    if not PARTITION.fullmatch(path.name):
        raise SpoolUnavailable("not a partition (the spool names them by 16 hex digits)")
    files, payloads, times, skipped, endpoint = 0, 0, [], [], "(unknown)"
    fd = open_partition(folder, path.name, path.parent)
    try:
        for name in sorted(os.listdir(fd)):
            if name != ENDPOINT_FILE and not name.endswith(SUFFIX):
                continue  # bad lines, temporary files: nothing to send
            limit = _ENDPOINT_BYTES if name == ENDPOINT_FILE else max_bytes
            try:
                data, mtime = _read(fd, name, limit)
            except FileNotFoundError:
                continue
            except (SpoolUnavailable, OSError) as error:
                skipped.append((name, _why(error)))
                continue
            if name == ENDPOINT_FILE:
                endpoint = data.decode("utf-8", "replace").strip() or endpoint
                continue
            files += 1
            payloads += sum(1 for line in data.splitlines() if line.strip())
            times.append(mtime)
    finally:
        os.close(fd)
    return Partition(path, files, payloads, min(times, default=None), endpoint, tuple(skipped))


def _read(folder: int, name: str, limit: int) -> tuple[bytes, float]:
    """A regular file of this user's, if it is no longer than ``limit``."""
    fd, info = open_own(folder, name)
    try:
        data = b"" if info.st_size > limit else read_all(fd, limit)
    finally:
        os.close(fd)
    if info.st_size > limit or len(data) > limit:
        raise SpoolUnavailable(f"bigger than the spool's size cap ({limit} bytes), not read")
    return data, info.st_mtime


def remove(folder: Path, name: str) -> list[Skipped]:
    """Remove partition ``name``: its spool files, then the partition if nothing else is
    in it. Returns each entry left in place, with why. SpoolUnavailable when the folder
    or the partition is refused."""
    kept = []
    with opened_folder(folder) as parent:
        try:
            fd = open_partition(parent, name, folder)
        except FileNotFoundError:
            return []  # removed meanwhile
        try:
            for entry in sorted(os.listdir(fd)):
                why = remove_own(fd, entry) if SPOOL_FILE.fullmatch(entry) else "not a spool file"
                if why is not None:
                    kept.append((entry, why))
        finally:
            os.close(fd)
        if not kept:
            try:
                os.rmdir(name, dir_fd=parent)
            except FileNotFoundError:
                pass
            except OSError as error:  # a batch spooled meanwhile
                kept.append((name, _why(error)))
    return kept
