"""A local spool for payloads Reconify did not take in time: durable, private, bounded.

Modelled on the Azure Monitor exporter's local storage. Payloads are kept WITHOUT the
Reconify keys (they join at send time), one JSON-lines file per batch, written to a
temporary name, synced, then renamed, so a crash never leaves half a file. A file being
resent is claimed with an exclusive ``flock``, which the kernel drops when its process
dies: two processes never send one file twice, and a killed process leaves no stale
claim. Beyond the byte cap or the retention time the oldest files go, counted and logged.
Files vanish under our feet when another process delivers them; every listing allows it.

One partition (a subdirectory named by a hash of the app key and endpoint) per key and
endpoint, created on the first write and removed when drained empty; its ``endpoint``
file names the endpoint (never a key) for ``reconify-otel spool list``. A line that is
not a payload is moved to a ``.bad`` file beside it, counted; a file that cannot be
opened, a symlink, or another user's file is skipped, logged once; neither stops the rest.
No symlink is followed and no folder or file of another user's is used (``spool_fs``).
A temporary file left by a process killed mid-write is removed after a minute, counted.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconify_otel.delivery.spool_fs import (
    FILE_FLAGS,
    check_base,
    chosen_base,
    open_own,
    opened,
    own,
    read_all,
    remove_orphans,
    write_atomically,
)
from reconify_otel.delivery.spool_fs import (
    SpoolUnavailable as SpoolUnavailable,  # raised by ``Spool``: importable from here
)
from reconify_otel.runtime.counters import Counters, Event
from reconify_otel.runtime.forksafe import reset_after_fork
from reconify_otel.runtime.logs import RateLimitedLog

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per spool
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("reconify_otel")

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_RETENTION_SECONDS = 48 * 3600
SUFFIX = ".jsonl"
ENDPOINT_FILE = "endpoint"
_WRITE_TRIES = 5  # a partition emptied by another process can vanish between mkdir and write
TEMPORARY = ".tmp"
ORPHAN_SECONDS = 60.0  # a write takes milliseconds: an older unlocked temporary file is dead

Payload = dict[str, Any]


def default_directory() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reconify-otel" / "spool"


def partition_name(app_key: str, endpoint: str) -> str:
    """A hash: the key never shows in a path."""
    return hashlib.sha256(f"{app_key} {endpoint}".encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Claimed:
    path: Path
    payloads: list[Payload]
    fd: int  # holds the lock until ``release``
    had_bad_lines: bool = False


class Spool:
    def __init__(
        self,
        directory: Path,
        counters: Counters,
        *,
        endpoint: str = "",
        max_bytes: int = DEFAULT_MAX_BYTES,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
    ) -> None:
        """``directory``: this partition's (``user_directory(base) / partition_name``);
        the base is checked now, the folders are made on the first write."""
        check_base(chosen_base(directory))
        self.directory = directory
        self._counters = counters
        self._endpoint = endpoint
        self._max_bytes = max_bytes
        self._retention = retention_seconds
        self._seq = itertools.count()
        self._log = RateLimitedLog(logger)
        self._skipped: set[str] = set()  # files that could not be used, logged once
        self._reset()
        reset_after_fork(self)
        with contextlib.suppress(FileNotFoundError), self._folder() as (_, folder):
            self._remove_orphans(folder)  # a process killed mid-write before us

    def _reset(self) -> None:
        self._lock = threading.Lock()

    def _after_fork(self) -> None:
        # A parent thread may have held the lock at fork: the child would wait forever.
        self._reset()

    @contextlib.contextmanager
    def _folder(self, *, create: bool = False) -> Iterator[tuple[int, int]]:
        """(parent fd, partition fd); FileNotFoundError if there is none. A partition that
        cannot be used safely is logged once a minute and looks empty."""
        try:
            with opened(self.directory, create=create) as fds:
                yield fds
        except SpoolUnavailable as error:
            if create:
                raise
            self._log.log(logging.ERROR, "unsafe", "Reconify spool not used: %s", error)
            raise FileNotFoundError(self.directory) from None

    def put(self, payloads: list[Payload]) -> bool:
        """Write a batch durably; False (counted, logged) if it could not be written."""
        if not payloads:
            return True
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq)}{SUFFIX}"
        try:
            for attempt in range(_WRITE_TRIES):
                try:
                    # Not made yet, or just removed as empty by another process: make it.
                    with self._folder(create=attempt > 0) as (_, folder):
                        self._write(folder, name, _encode(payloads))
                        with contextlib.suppress(OSError):  # only ``spool list`` needs it
                            self._mark(folder)
                    break
                except FileNotFoundError:
                    if attempt == _WRITE_TRIES - 1:
                        raise
        except (OSError, SpoolUnavailable) as error:
            self._counters.add(Event.SPOOL_WRITE_FAILED, len(payloads))
            self._log.log(
                logging.ERROR,
                "write",
                "Reconify spool %s: write failed (%s); %d payloads lost",
                self.directory,
                error,
                len(payloads),
            )
            return False
        self._counters.add(Event.SPOOLED, len(payloads))
        self._enforce_limits()
        return True

    def _mark(self, folder: int) -> None:
        """The endpoint file, for ``spool list``; again after another process's clean-up
        took it while our batch was being written."""
        try:
            os.stat(ENDPOINT_FILE, dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            if self._endpoint:
                self._write(folder, ENDPOINT_FILE, self._endpoint.encode())

    def _write(self, folder: int, name: str, data: bytes) -> None:
        temporary = f"{name}.{os.getpid()}.{next(self._seq)}{TEMPORARY}"
        write_atomically(folder, name, data, temporary)

    def claim(self, max_payloads: int = 512) -> list[Claimed]:
        """Oldest files first, each locked before it is read, until ``max_payloads``
        (at least one file); ``release`` each one."""
        taken: list[Claimed] = []
        count = 0
        with contextlib.suppress(FileNotFoundError), self._folder() as (_, folder):
            self._expire(folder)
            self._remove_orphans(folder)
            for name in self._files(folder):
                if count >= max_payloads:
                    break
                fd = self._lock_file(folder, name)
                if fd is None:
                    continue  # another process is sending it, it is gone, or unusable
                payloads, bad = self._read(folder, name, fd)
                if not payloads and not bad:
                    self._unlink(folder, name)
                    os.close(fd)
                    continue
                taken.append(Claimed(self.directory / name, payloads, fd, bool(bad)))
                count += len(payloads)
        return taken

    def _read(self, folder: int, name: str, fd: int) -> tuple[list[Payload], list[bytes]]:
        """Good payloads, and the bad lines (moved to ``<file>.bad``, counted)."""
        try:
            lines = read_all(fd).splitlines()
        except OSError:
            return [], []
        good: list[Payload] = []
        bad: list[bytes] = []
        for line in lines:
            if not line.strip():
                continue
            payload = _payload(line)
            if payload is None:
                bad.append(line)
            else:
                good.append(payload)
        if bad:
            self._counters.add(Event.SPOOL_BAD_LINES, len(bad))
            quarantine = name.removesuffix(SUFFIX) + ".bad"
            with contextlib.suppress(OSError):  # counted and logged all the same
                self._append(folder, quarantine, b"".join(line + b"\n" for line in bad))
            self._log.log(
                logging.ERROR,
                "bad-lines",
                "Reconify spool %s: %d unreadable lines in %s moved to %s; the rest is resent",
                self.directory,
                len(bad),
                name,
                quarantine,
            )
        return good, bad

    @staticmethod
    def _append(folder: int, name: str, data: bytes) -> None:
        """To a file of ours: never through a symlink, never into another user's file."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | FILE_FLAGS
        fd = os.open(name, flags, 0o600, dir_fd=folder)
        try:
            if own(fd):
                os.write(fd, data)
        finally:
            os.close(fd)

    def release(self, claimed: Claimed, remaining: list[Payload]) -> None:
        """Done with a claimed file: delete it, or keep what is still undelivered in place."""
        name = claimed.path.name
        try:
            with self._folder() as (_, folder):
                if not remaining:
                    self._unlink(folder, name)
                elif claimed.had_bad_lines or len(remaining) != len(claimed.payloads):
                    self._write(folder, name, _encode(remaining))  # same place in line
        except OSError as error:
            self._log.log(logging.ERROR, "release", "Reconify spool %s: %s", self.directory, error)
        finally:
            os.close(claimed.fd)

    def remove_if_empty(self) -> None:
        """No folder left behind: a partition with nothing waiting goes (called after a
        resend round, not per file: a listing per file would make draining quadratic)."""
        with self._lock, contextlib.suppress(OSError), self._folder() as (parent, folder):
            if set(os.listdir(folder)) <= {ENDPOINT_FILE}:
                self._unlink(folder, ENDPOINT_FILE)
                os.rmdir(self.directory.name, dir_fd=parent)

    def waiting(self) -> bool:
        with contextlib.suppress(FileNotFoundError), self._folder() as (_, folder):
            return any(name not in self._skipped for name in self._files(folder))
        return False

    def stats(self) -> tuple[int, int]:
        """(files, bytes) waiting."""
        with contextlib.suppress(FileNotFoundError), self._folder() as (_, folder):
            sizes = [size for _, size, _ in self._listed(folder)]
            return len(sizes), sum(sizes)
        return 0, 0

    @staticmethod
    def _files(folder: int) -> list[str]:
        try:
            return sorted(name for name in os.listdir(folder) if name.endswith(SUFFIX))
        except OSError:
            return []

    def _listed(self, folder: int) -> list[tuple[str, int, float]]:
        """(name, size, mtime) of each file waiting, oldest first."""
        listed = []
        for name in self._files(folder):
            with contextlib.suppress(OSError):
                info = os.stat(name, dir_fd=folder, follow_symlinks=False)
                listed.append((name, info.st_size, info.st_mtime))
        return listed

    def _remove_orphans(self, folder: int) -> None:
        removed = remove_orphans(folder, TEMPORARY, ORPHAN_SECONDS)
        if removed:
            self._counters.add(Event.SPOOL_ORPHANS_REMOVED, removed)
            self._log.warning(
                "orphans",
                "Reconify spool %s: removed %d temporary files left by a process killed "
                "mid-write (nothing spooled was in them)",
                self.directory,
                removed,
            )

    def _expire(self, folder: int) -> None:
        horizon = time.time() - self._retention
        for name, _, mtime in self._listed(folder):
            if mtime < horizon:
                self._drop(folder, name, "older than the retention limit")

    def _enforce_limits(self) -> None:
        with self._lock, contextlib.suppress(FileNotFoundError), self._folder() as (_, folder):
            listed = self._listed(folder)
            total = sum(size for _, size, _ in listed)
            for name, size, _ in listed:
                if total <= self._max_bytes:
                    break
                total -= size
                self._drop(folder, name, f"over the {self._max_bytes}-byte cap")

    def _drop(self, folder: int, name: str, why: str) -> None:
        fd = self._lock_file(folder, name)
        if fd is None:
            return  # being sent right now: not ours to drop
        try:
            payloads, _ = self._read(folder, name, fd)
            self._unlink(folder, name)
        finally:
            os.close(fd)
        self._counters.add(Event.SPOOL_DROPPED, len(payloads))
        self._log.warning(
            f"drop:{why}",
            "Reconify spool %s dropped %d payloads %s",
            self.directory,
            len(payloads),
            why,
        )

    @staticmethod
    def _unlink(folder: int, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=folder)

    def _lock_file(self, folder: int, name: str) -> int | None:
        """An fd holding an exclusive lock on ``name``, or None if taken, gone or unusable
        (a directory, a symlink, another user's file: never read, never sent).

        After locking, the name must still lead to the locked file: a process that got
        the lock just after another deleted the file must not send it again.
        """
        if name in self._skipped:
            return None
        try:
            fd, opened_as = open_own(folder, name, os.O_RDWR)
        except FileNotFoundError:
            return None
        except OSError as error:  # a directory, a symlink, another user's file
            self._skipped.add(name)
            self._counters.add(Event.SPOOL_UNOPENABLE_FILES)
            self._log.log(
                logging.ERROR,
                f"open:{name}",
                "Reconify spool %s: cannot open %s (%s); skipped, the rest is resent",
                self.directory,
                name,
                error.strerror or type(error).__name__,
            )
            return None
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if opened_as.st_ino != os.stat(name, dir_fd=folder, follow_symlinks=False).st_ino:
                raise FileNotFoundError(name)
        except OSError:
            os.close(fd)
            return None
        return fd


def _encode(payloads: list[Payload]) -> bytes:
    lines = "".join(json.dumps(p, separators=(",", ":")) + "\n" for p in payloads)
    return lines.encode("utf-8", "replace")


def _payload(line: bytes) -> Payload | None:
    """A spooled line back as a payload, or None: not JSON, not an object, no ``reconify``."""
    try:
        value = json.loads(line)
    except ValueError:  # includes bad UTF-8 and NUL bytes
        return None
    if isinstance(value, dict) and isinstance(value.get("reconify"), dict):
        return value
    return None
