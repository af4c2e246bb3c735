"""The spool's folders and files, safe in a folder other users can write to.

A ``spool_dir`` only this user can write to holds the partitions itself. One that others
can write to (0777, or a sticky ``/tmp``) holds a ``uid-<uid>`` folder per user (0700),
and the partitions go in there: another user can neither plant a partition for us nor
read ours. Below the chosen ``spool_dir`` (which may be a symlink: the user's choice) no
symlink is followed: each folder is opened relative to its parent's descriptor with
``O_NOFOLLOW`` and checked on that descriptor (owner: this user; nobody else may write),
and each file is opened relative to the partition's, with ``O_NOFOLLOW`` as well, so a
name swapped between a check and its use cannot send us elsewhere.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per spool
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("reconify_otel")

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0) | os.O_RDONLY
# NONBLOCK: a FIFO planted under a spool name must not hang the open.
FILE_FLAGS = _NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


class SpoolUnavailable(Exception):
    """The spool directory cannot be used safely; the message says what to fix."""


def _uid() -> int:
    return os.getuid() if hasattr(os, "getuid") else 0


def user_folder_name() -> str:
    return f"uid-{_uid()}"


def _private(info: os.stat_result) -> bool:
    """This user's, and nobody else may add or swap names in it."""
    return info.st_uid == _uid() and not info.st_mode & 0o022


def user_directory(base: Path) -> Path:
    """Where this user's partitions go: ``base``, or ``base/uid-<uid>`` if others can
    write to ``base`` (checked again on every open: this only names the place)."""
    try:
        info = base.stat()
    except OSError:
        return base  # made later, 0700, ours
    shared = info.st_mode & 0o022 and hasattr(os, "getuid")
    return base / user_folder_name() if shared else base


def chosen_base(directory: Path) -> Path:
    """The ``spool_dir`` a partition path was made from (see ``user_directory``)."""
    parent = directory.parent
    return parent.parent if parent.name == user_folder_name() else parent


def own(fd: int) -> bool:
    """A regular file of this user's: never send a payload another user wrote."""
    return refusal(os.fstat(fd)) is None


def refusal(info: os.stat_result) -> str | None:
    """Why a file (as ``lstat`` or ``fstat`` sees it) is not this user's to read or
    remove: a symlink, not a regular file, another user's; None when it is."""
    if stat.S_ISLNK(info.st_mode):
        return "a symlink, not followed"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_uid != _uid():
        return f"another user's (uid {info.st_uid})"
    return None


def open_own(folder: int, name: str, access: int = os.O_RDONLY) -> tuple[int, os.stat_result]:
    """``name`` in ``folder`` opened for ``access`` (read, or read-write to lock it), and
    its ``fstat``, if it is a regular file of this user's: never through a symlink, a FIFO
    or device never even opened (and never blocking if one is swapped in).
    PermissionError saying why not; FileNotFoundError."""
    why = refusal(os.stat(name, dir_fd=folder, follow_symlinks=False))
    if why is None:
        fd = os.open(name, access | FILE_FLAGS, dir_fd=folder)
        info = os.fstat(fd)
        why = refusal(info)  # swapped after the look
        if why is None:
            return fd, info
        os.close(fd)
    raise PermissionError(errno.EPERM, why)


def remove_own(folder: int, name: str) -> str | None:
    """Unlink ``name`` in ``folder`` (one of this user's, no other user can swap names in
    it) if it is a regular file of this user's; else why not. Gone already: None."""
    try:
        why = refusal(os.stat(name, dir_fd=folder, follow_symlinks=False))
        if why is None:
            os.unlink(name, dir_fd=folder)
    except FileNotFoundError:
        return None
    return why


@contextlib.contextmanager
def opened(directory: Path, *, create: bool) -> Iterator[tuple[int, int]]:
    """(parent's fd, partition's fd) for ``directory``, made 0700 if ``create``.

    FileNotFoundError when it does not exist (and not ``create``); SpoolUnavailable when
    a folder on the way is a symlink, another user's, or shared where it must not be.
    """
    base = chosen_base(directory)
    with _descend(base, directory.relative_to(base).parts, create=create) as fds:
        yield fds[-2], fds[-1]


@contextlib.contextmanager
def opened_folder(folder: Path) -> Iterator[int]:
    """The fd of ``folder`` (``user_directory(base)``: where this user's partitions are),
    for looking only: checked as ``opened`` checks it, and refused, not made private, if
    others can write to it. FileNotFoundError when it does not exist."""
    shared = folder.name == user_folder_name()
    base = folder.parent if shared else folder
    with _descend(base, (folder.name,) if shared else (), create=False, tighten=False) as fds:
        yield fds[-1]


@contextlib.contextmanager
def _descend(
    base: Path, names: tuple[str, ...], *, create: bool, tighten: bool = True
) -> Iterator[list[int]]:
    """The fds of ``base`` and of each folder ``names`` leads to below it."""
    if os.open not in os.supports_dir_fd:  # pragma: no cover - not POSIX
        raise SpoolUnavailable("this platform cannot open the spool without following links")
    if create:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
    fds = [os.open(base, _DIRECTORY)]  # follows a symlink: the user chose this path
    try:
        # Partitions right in ``base`` (not in a ``uid-<uid>`` folder): it must be private.
        info = os.fstat(fds[0])
        if names[:1] != (user_folder_name(),) and not _private(info):
            raise SpoolUnavailable(
                f"{base} belongs to another user (uid {info.st_uid}); not used"
                if info.st_uid != _uid()
                else f"{base} is open to other users' writes; its partitions go in "
                f"{base / user_folder_name()}"
            )
        for name in names:
            fds.append(_open_own(fds[-1], name, base, create=create, tighten=tighten))
        yield fds
    finally:
        for fd in fds:
            os.close(fd)


def open_partition(folder: int, name: str, where: Path) -> int:
    """The fd of partition ``name`` in ``folder`` (``where``), for looking only: never
    through a symlink; SpoolUnavailable if it is another user's or others can write to
    it (its mode is left alone); FileNotFoundError if it is gone."""
    return _open_own(folder, name, where, create=False, tighten=False)


def _open_own(parent: int, name: str, base: Path, *, create: bool, tighten: bool = True) -> int:
    """A folder of ours below ``parent``, never through a symlink; made 0700 if missing.
    ``tighten``: made 0700 if it is not; else refused if others can write to it."""
    try:
        fd = os.open(name, _DIRECTORY | _NOFOLLOW, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o700, dir_fd=parent)
        fd = os.open(name, _DIRECTORY | _NOFOLLOW, dir_fd=parent)
    except OSError as error:  # ELOOP, ENOTDIR: a symlink or a file planted there
        what = (
            "a symlink; not followed,"
            if _link(parent, name)
            else f"not a directory ({error.strerror});"
        )
        raise SpoolUnavailable(f"{base}: {name} is {what} not used") from None
    info = os.fstat(fd)
    if info.st_uid != _uid():
        os.close(fd)
        raise SpoolUnavailable(
            f"{base}: {name} belongs to another user (uid {info.st_uid}); not used. "
            "Remove it, or set spool_dir (RECONIFY_SPOOL_DIR) to a directory of this user's"
        )
    if not tighten and info.st_mode & 0o022:
        os.close(fd)
        raise SpoolUnavailable(
            f"{base}: {name} is open to other users' writes (mode "
            f"{stat.S_IMODE(info.st_mode):o}); not used. Remove it, or chmod 700 it"
        )
    if tighten and stat.S_IMODE(info.st_mode) != 0o700:
        os.fchmod(fd, 0o700)  # ours, named by us: private (files others planted are skipped)
    return fd


def _link(parent: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode)
    except OSError:
        return False


def check_base(base: Path, *, warn: bool = True) -> None:
    """The spool's base directory must be usable: refuse (saying what to fix) another
    user's private directory or one that is not writable, also through a symlink.
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
    shared = bool(info.st_mode & 0o022)  # each user gets a folder of its own there
    if probe == base and hasattr(os, "getuid") and info.st_uid != _uid() and not shared:
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
            "stay private in 0700 subdirectories%s, but consider chmod 700",
            base,
            stat.S_IMODE(info.st_mode),
            f" ({user_folder_name()}/ for this user)" if shared else "",
        )


def write_atomically(folder: int, name: str, data: bytes, temporary: str) -> None:
    """``data`` as ``name`` in ``folder``: a new private file (never an existing name or
    a symlink), synced, then renamed over ``name``. Locked while written, so a temporary
    file that is not locked is known to be a dead writer's (``remove_orphans``)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | FILE_FLAGS
    fd = os.open(temporary, flags, 0o600, dir_fd=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            handle.write(data)
            handle.flush()
            os.fsync(fd)
        os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary, dir_fd=folder)


def read_all(fd: int, limit: int | None = None) -> bytes:
    """The whole file behind ``fd`` (the locked one: never a second open by name); with
    ``limit``, at most one byte more than that (so a longer file shows as longer)."""
    chunks = []
    offset = 0
    end = None if limit is None else limit + 1
    while end is None or offset < end:
        chunk = os.pread(fd, 1 << 20 if end is None else min(1 << 20, end - offset), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def remove_orphans(folder: int, suffix: str, older_than: float) -> int:
    """Remove temporary files left by writers killed mid-write: older than ``older_than``
    seconds and not locked (a live writer holds its lock). How many went."""
    removed = 0
    horizon = time.time() - older_than
    for name in os.listdir(folder):
        if not name.endswith(suffix):
            continue
        try:
            if os.stat(name, dir_fd=folder, follow_symlinks=False).st_mtime >= horizon:
                continue
            fd = os.open(name, os.O_RDONLY | FILE_FLAGS, dir_fd=folder)
        except OSError:  # gone, or a symlink: not a file of ours to judge
            continue
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino == os.stat(name, dir_fd=folder, follow_symlinks=False).st_ino:
                os.unlink(name, dir_fd=folder)
                removed += 1
        except OSError:
            pass  # a live writer's, or gone meanwhile
        finally:
            os.close(fd)
    return removed
