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
opened is skipped, logged once; neither stops the rest.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconify_otel.runtime.counters import Counters
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

Payload = dict[str, Any]


class SpoolUnavailable(Exception):
    """The spool directory cannot be used safely; the message says what to fix."""


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
        """``directory``: this partition's; its parent is checked now, it is made later."""
        check_base(directory.parent)
        self.directory = directory
        self._counters = counters
        self._endpoint = endpoint
        self._max_bytes = max_bytes
        self._retention = retention_seconds
        self._seq = itertools.count()
        self._log = RateLimitedLog(logger)
        self._skipped: set[Path] = set()  # files that could not be opened, logged once
        self._reset()
        reset_after_fork(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()

    def _after_fork(self) -> None:
        # A parent thread may have held the lock at fork: the child would wait forever.
        self._reset()

    def put(self, payloads: list[Payload]) -> bool:
        """Write a batch durably; False (counted, logged) if it could not be written."""
        if not payloads:
            return True
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq)}{SUFFIX}"
        try:
            for attempt in range(_WRITE_TRIES):
                try:
                    if attempt:  # not made yet, or just removed as empty by another
                        self._make_directory()
                    self._write(self.directory / name, payloads)
                    break
                except FileNotFoundError:
                    if attempt == _WRITE_TRIES - 1:
                        raise
        except (OSError, SpoolUnavailable) as error:
            self._counters.add("spool_write_failed", len(payloads))
            self._log.log(
                logging.ERROR,
                "write",
                "Reconify spool %s: write failed (%s); %d payloads lost",
                self.directory,
                error,
                len(payloads),
            )
            return False
        self._counters.add("spooled", len(payloads))
        with contextlib.suppress(OSError):  # only ``spool list`` needs it
            self._mark()
        self._enforce_limits()
        return True

    def _make_directory(self) -> None:
        check_base(self.directory.parent, warn=False)
        self.directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            self.directory.mkdir(mode=0o700)
        info = self.directory.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise SpoolUnavailable(f"{self.directory} is not a directory of this user's")
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.chmod(self.directory, 0o700)  # ours (named by the hash), never the user's
        self._mark()

    def _mark(self) -> None:
        """The endpoint file, for ``spool list``; again after another process's clean-up
        took it while our batch was being written."""
        marker = self.directory / ENDPOINT_FILE
        if self._endpoint and not marker.exists():
            self._write(marker, None, self._endpoint.encode())

    def _write(self, path: Path, payloads: list[Payload] | None, data: bytes = b"") -> None:
        """Atomically: a private temporary file, synced, then renamed over ``path``."""
        if payloads is not None:
            data = "".join(json.dumps(p, separators=(",", ":")) + "\n" for p in payloads).encode(
                "utf-8", "replace"
            )
        temporary = path.with_name(f"{path.name}.{os.getpid()}.{next(self._seq)}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()

    def claim(self, max_payloads: int = 512) -> list[Claimed]:
        """Oldest files first, each locked before it is read, until ``max_payloads``
        (at least one file); ``release`` each one."""
        self._expire()
        taken: list[Claimed] = []
        count = 0
        for path in self._files():
            if count >= max_payloads:
                break
            fd = self._lock_file(path)
            if fd is None:
                continue  # another process is sending it, it is gone, or unusable
            payloads, bad = self._read(path)
            if not payloads and not bad:
                self._unlink(path)
                os.close(fd)
                continue
            taken.append(Claimed(path, payloads, fd, bool(bad)))
            count += len(payloads)
        return taken

    def _read(self, path: Path) -> tuple[list[Payload], list[bytes]]:
        """Good payloads, and the bad lines (moved to ``<file>.bad``, counted)."""
        try:
            lines = path.read_bytes().splitlines()
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
            self._counters.add("spool_bad_lines", len(bad))
            quarantine = path.with_name(path.name.removesuffix(SUFFIX) + ".bad")
            try:
                fd = os.open(quarantine, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                with os.fdopen(fd, "ab") as handle:
                    handle.write(b"".join(line + b"\n" for line in bad))
            except OSError:
                pass  # counted and logged all the same; the good lines go on
            self._log.log(
                logging.ERROR,
                "bad-lines",
                "Reconify spool %s: %d unreadable lines in %s moved to %s; the rest is resent",
                self.directory,
                len(bad),
                path.name,
                quarantine.name,
            )
        return good, bad

    def release(self, claimed: Claimed, remaining: list[Payload]) -> None:
        """Done with a claimed file: delete it, or keep what is still undelivered in place."""
        try:
            if not remaining:
                self._unlink(claimed.path)
            elif claimed.had_bad_lines or len(remaining) != len(claimed.payloads):
                self._write(claimed.path, remaining)  # same name: same place in line
        except OSError as error:
            self._log.log(logging.ERROR, "release", "Reconify spool %s: %s", self.directory, error)
        finally:
            os.close(claimed.fd)

    def remove_if_empty(self) -> None:
        """No folder left behind: a partition with nothing waiting goes (called after a
        resend round, not per file: a listing per file would make draining quadratic)."""
        with self._lock:
            try:
                names = os.listdir(self.directory)
            except OSError:
                return
            if set(names) <= {ENDPOINT_FILE}:
                with contextlib.suppress(OSError):
                    (self.directory / ENDPOINT_FILE).unlink(missing_ok=True)
                    self.directory.rmdir()

    def waiting(self) -> bool:
        return any(path not in self._skipped for path in self._files())

    def stats(self) -> tuple[int, int]:
        """(files, bytes) waiting."""
        sizes = [size for _, size in self._sized(self._files())]
        return len(sizes), sum(sizes)

    def _files(self) -> list[Path]:
        try:
            return sorted(self.directory.glob(f"*{SUFFIX}"))
        except OSError:
            return []

    @staticmethod
    def _sized(paths: list[Path]) -> list[tuple[Path, int]]:
        sized = []
        for path in paths:
            with contextlib.suppress(OSError):
                sized.append((path, path.stat().st_size))
        return sized

    def _expire(self) -> None:
        horizon = time.time() - self._retention
        for path in self._files():
            with contextlib.suppress(OSError):
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
        fd = self._lock_file(path)
        if fd is None:
            return  # being sent right now: not ours to drop
        try:
            payloads, _ = self._read(path)
            self._unlink(path)
        finally:
            os.close(fd)
        self._counters.add("spool_dropped", len(payloads))
        self._log.warning(
            f"drop:{why}",
            "Reconify spool %s dropped %d payloads %s",
            self.directory,
            len(payloads),
            why,
        )

    @staticmethod
    def _unlink(path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def _lock_file(self, path: Path) -> int | None:
        """An fd holding an exclusive lock on ``path``, or None if taken, gone or unusable.

        After locking, the name must still lead to the locked file: a process that got
        the lock just after another deleted the file must not send it again.
        """
        if path in self._skipped:
            return None
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError as error:  # a directory, another user's file, a symlink
            self._skipped.add(path)
            self._counters.add("spool_unopenable_files")
            self._log.log(
                logging.ERROR,
                f"open:{path}",
                "Reconify spool %s: cannot open %s (%s); skipped, the rest is resent",
                self.directory,
                path.name,
                error.strerror or type(error).__name__,
            )
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


def _payload(line: bytes) -> Payload | None:
    """A spooled line back as a payload, or None: not JSON, not an object, no ``reconify``."""
    try:
        value = json.loads(line)
    except ValueError:  # includes bad UTF-8 and NUL bytes
        return None
    if isinstance(value, dict) and isinstance(value.get("reconify"), dict):
        return value
    return None


def check_base(base: Path, *, warn: bool = True) -> None:
    """The spool's base directory must be this user's: refuse (saying what to fix) a
    directory another user owns or that is not writable, also through a symlink.
    Permissions of a directory the user chose are never changed, only warned about."""
    probe = base
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent  # made later, 0700; what exists must let us make it
    try:
        info = probe.stat()  # follows a symlink: the target is what matters
    except OSError as error:
        raise SpoolUnavailable(f"{base}: {error.strerror}; set spool_dir elsewhere") from None
    if probe == base and not stat.S_ISDIR(info.st_mode):
        raise SpoolUnavailable(f"{base} is not a directory; set spool_dir to a directory")
    if probe == base and hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise SpoolUnavailable(
            f"{base} belongs to another user (uid {info.st_uid}); "
            "set spool_dir (RECONIFY_SPOOL_DIR) to a directory of this user's"
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise SpoolUnavailable(
            f"{probe} is not writable by this user; "
            "set spool_dir (RECONIFY_SPOOL_DIR) to a writable directory"
        )
    if warn and probe == base and stat.S_IMODE(info.st_mode) & 0o077:
        logger.warning(
            "Reconify spool directory %s is open to other users (mode %o); the payloads "
            "stay private in 0700 subdirectories, but consider chmod 700",
            base,
            stat.S_IMODE(info.st_mode),
        )
