"""A local spool for payloads Reconify did not take in time: durable, private, bounded.

Modelled on the Azure Monitor exporter's local storage. Payloads are kept WITHOUT the
Reconify keys (they join at send time), one JSON-lines file per batch, written to a
temporary name, synced, then renamed, so a crash never leaves half a file. A file being
resent is claimed with an exclusive ``flock``, which the kernel drops when its process
dies: two processes never send one file twice, and a killed process leaves no stale
claim. Beyond the byte cap or the retention time the oldest files go, counted and logged.
Files vanish under our feet when another process delivers them; every listing allows it.
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

from reconify_otel.runtime.counters import Counters

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per spool
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("reconify_otel")

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_RETENTION_SECONDS = 48 * 3600
DEFAULT_FILES_PER_DRAIN = 10
_SUFFIX = ".jsonl"

Payload = dict[str, Any]


class SpoolUnavailable(Exception):
    """The spool directory is not private to this user; nothing is written there."""


def default_directory() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reconify-otel" / "spool"


@dataclass(frozen=True, slots=True)
class Claimed:
    path: Path
    payloads: list[Payload]
    fd: int  # holds the lock until ``release``


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
        # Partitioned by a hash (of the app key and endpoint): the key never shows.
        digest = hashlib.sha256(partition.encode()).hexdigest()[:16]
        self.directory = directory / digest
        self._counters = counters
        self._max_bytes = max_bytes
        self._retention = retention_seconds
        self._lock = threading.Lock()
        self._seq = itertools.count()
        _private_directory(directory)
        _private_directory(self.directory)

    def put(self, payloads: list[Payload]) -> bool:
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

    def _write(self, path: Path, payloads: list[Payload]) -> None:
        """Atomically: a private temporary file, synced, then renamed over ``path``."""
        data = "".join(json.dumps(p, separators=(",", ":")) + "\n" for p in payloads).encode(
            "utf-8", "replace"
        )
        temporary = path.with_name(f"{path.name}.{os.getpid()}.{next(self._seq)}.tmp")
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
        """Oldest files first, each locked before it is read; ``release`` each one."""
        self._expire()
        taken = 0
        for path in self._files():
            if taken >= max_files:
                return
            fd = _lock(path)
            if fd is None:
                continue  # another process is sending it, or it is gone
            taken += 1
            payloads = _read(path)
            if payloads is None:
                self._counters.add("spool_corrupt_files")
                logger.error("Reconify spool file %s is unreadable; removed", path.name)
                self._unlink(path)
                os.close(fd)
                continue
            yield Claimed(path, payloads, fd)

    def release(self, claimed: Claimed, remaining: list[Payload]) -> None:
        """Done with a claimed file: delete it, or keep what is still undelivered in place."""
        try:
            if not remaining:
                self._unlink(claimed.path)
            elif len(remaining) != len(claimed.payloads):
                self._write(claimed.path, remaining)  # same name: same place in line
        finally:
            os.close(claimed.fd)

    def waiting(self) -> bool:
        return bool(self._files())

    def stats(self) -> tuple[int, int]:
        """(files, bytes) waiting."""
        sizes = [size for _, size in self._sized(self._files())]
        return len(sizes), sum(sizes)

    def _files(self) -> list[Path]:
        try:
            return sorted(self.directory.glob(f"*{_SUFFIX}"))
        except OSError:
            return []

    @staticmethod
    def _sized(paths: list[Path]) -> list[tuple[Path, int]]:
        sized = []
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                sized.append((path, path.stat().st_size))
        return sized

    def _expire(self) -> None:
        horizon = time.time() - self._retention
        for path in self._files():
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < horizon:
                    self._drop(path, "older than the retention limit")

    def _enforce_limits(self) -> None:
        with self._lock:
            sized = self._sized(self._files())
            total = sum(size for _, size in sized)
            for path, size in sized:
                if total <= self._max_bytes:
                    break
                total -= size
                self._drop(path, f"over the {self._max_bytes}-byte cap")

    def _drop(self, path: Path, why: str) -> None:
        fd = _lock(path)
        if fd is None:
            return  # being sent right now: not ours to drop
        try:
            payloads = _read(path) or []
            self._unlink(path)
        finally:
            os.close(fd)
        self._counters.add("spool_dropped", len(payloads))
        logger.warning("Reconify spool dropped %d payloads %s", len(payloads), why)

    @staticmethod
    def _unlink(path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _lock(path: Path) -> int | None:
    """An fd holding an exclusive lock on ``path``, or None if taken or gone.

    After locking, the name must still lead to the locked file: a process that got the
    lock just after another deleted the file must not send it again.
    """
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(fd).st_ino != os.stat(path).st_ino:
            raise FileNotFoundError(path)
    except OSError:
        os.close(fd)
        return None
    return fd


def _private_directory(path: Path) -> None:
    """Create 0700, or accept one that is ours; refuse one another user owns."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise SpoolUnavailable(f"spool directory {path} belongs to another user")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)


def _read(path: Path) -> list[Payload] | None:
    try:
        lines = path.read_bytes().splitlines()
        payloads = [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError):
        return None
    return [p for p in payloads if isinstance(p, dict)]
