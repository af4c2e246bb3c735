"""A local spool for payloads Reconify did not take in time: durable, private, bounded.

Modelled on the Azure Monitor exporter's local storage. Payloads are kept WITHOUT the
Reconify keys (they join at send time), one JSON-lines file per batch, written to a
temporary name then renamed so a crash never leaves half a file. A file being resent is
claimed by renaming it with the owner's pid, so two processes never send it twice and
a claim left by a killed process is taken back. Beyond the byte cap or the retention
time the oldest files go, counted and logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconify_otel.counters import Counters

logger = logging.getLogger("reconify_otel")

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_RETENTION_SECONDS = 48 * 3600
DEFAULT_FILES_PER_DRAIN = 10
_SUFFIX = ".jsonl"
_CLAIMED = ".sending-"


class SpoolUnavailable(Exception):
    """The spool directory is not private to this user; nothing is written there."""


def default_directory() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reconify-otel" / "spool"


@dataclass(frozen=True, slots=True)
class Claimed:
    path: Path
    payloads: list[dict[str, Any]]


class Spool:
    def __init__(
        self,
        directory: Path,
        partition: str,
        counters: Counters,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
    ) -> None:
        # One partition per app key (hashed): one app never sends another's payloads.
        digest = hashlib.sha256(partition.encode()).hexdigest()[:16]
        self.directory = directory / digest
        self._counters = counters
        self._max_bytes = max_bytes
        self._retention = retention_seconds
        self._lock = threading.Lock()
        self._seq = itertools.count()
        _private_directory(directory)
        _private_directory(self.directory)

    def put(self, payloads: list[dict[str, Any]]) -> bool:
        """Write a batch durably; False (counted, logged) if it could not be written."""
        if not payloads:
            return True
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq)}{_SUFFIX}"
        try:
            self._write(self.directory / name, payloads)
        except OSError as error:
            self._counters.add("spool_write_errors")
            logger.error("Reconify spool write failed (%s): %d payloads lost", error, len(payloads))
            return False
        self._counters.add("spooled", len(payloads))
        self._enforce_limits()
        return True

    def _write(self, path: Path, payloads: list[dict[str, Any]]) -> None:
        """Atomically: a private temporary file, synced, then renamed over ``path``."""
        data = "".join(json.dumps(p, separators=(",", ":")) + "\n" for p in payloads).encode()
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()

    def claim(self, max_files: int = DEFAULT_FILES_PER_DRAIN) -> Iterator[Claimed]:
        """Oldest files first, each renamed to this process before it is read."""
        self._reclaim_abandoned()
        self._expire()
        taken = 0
        for path in self._files():
            if taken >= max_files:
                return
            claimed = path.with_name(f"{path.name}{_CLAIMED}{os.getpid()}")
            try:
                os.rename(path, claimed)
            except OSError:
                continue  # another process took it
            taken += 1
            payloads = _read(claimed)
            if payloads is None:
                self._counters.add("spool_corrupt_files")
                logger.error("Reconify spool file %s is unreadable; removed", claimed.name)
                self.delete(claimed)
                continue
            yield Claimed(claimed, payloads)

    def delete(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def release(self, claimed: Claimed, remaining: list[dict[str, Any]]) -> None:
        """Give back what is still undelivered of a claimed file, keeping its place in line."""
        if not remaining:
            self.delete(claimed.path)
            return
        if len(remaining) != len(claimed.payloads):
            self._write(claimed.path, remaining)
        original = claimed.path.with_name(claimed.path.name.split(_CLAIMED)[0])
        os.rename(claimed.path, original)

    def stats(self) -> tuple[int, int]:
        """(files, bytes) waiting, claimed ones included."""
        sizes = [p.stat().st_size for p in self._all_files()]
        return len(sizes), sum(sizes)

    def _files(self) -> list[Path]:
        return sorted(self.directory.glob(f"*{_SUFFIX}"))

    def _all_files(self) -> list[Path]:
        return [p for p in self.directory.iterdir() if not p.name.endswith(".tmp")]

    def _reclaim_abandoned(self) -> None:
        for path in self.directory.glob(f"*{_CLAIMED}*"):
            pid = path.name.rsplit("-", 1)[-1]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                with contextlib.suppress(OSError):
                    os.rename(path, path.with_name(path.name.split(_CLAIMED)[0]))

    def _expire(self) -> None:
        horizon = time.time() - self._retention
        for path in self._files():
            if path.stat().st_mtime < horizon:
                self._drop(path, "older than the retention limit")

    def _enforce_limits(self) -> None:
        with self._lock:
            files = self._files()
            total = sum(p.stat().st_size for p in files)
            while files and total > self._max_bytes:
                oldest = files.pop(0)
                total -= oldest.stat().st_size
                self._drop(oldest, f"over the {self._max_bytes}-byte cap")

    def _drop(self, path: Path, why: str) -> None:
        payloads = _read(path) or []
        self.delete(path)
        self._counters.add("spool_dropped", len(payloads))
        logger.warning("Reconify spool dropped %d payloads %s", len(payloads), why)


def _private_directory(path: Path) -> None:
    """Create 0700, or accept one that is ours; refuse one another user owns."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise SpoolUnavailable(f"spool directory {path} belongs to another user")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)


def _read(path: Path) -> list[dict[str, Any]] | None:
    try:
        lines = path.read_bytes().splitlines()
        payloads = [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError):
        return None
    return [p for p in payloads if isinstance(p, dict)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
