"""``reconify-otel spool list|drain|purge`` run by root on a spool folder another user
(a forked child running as ``nobody``) has tampered with: the command goes through the
spool's own safe layer, so it never follows a link below ``spool_dir``, never reads,
lists or deletes another user's folder or file, never blocks on a FIFO, never reads
without end, and a purge deletes spool files only. Each case runs the real command."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from reconify_otel.delivery.spool import Spool, partition_name
from reconify_otel.delivery.spool_fs import user_directory
from reconify_otel.runtime.counters import Counters

from .helpers import APP_KEY
from .spool_users import NEEDS_ROOT, NOBODY, as_user, reconify_otel

pytestmark = NEEDS_ROOT

ENDPOINT = "https://track.example/track"
BATCH = "00000000000000000001-1-0.jsonl"
PARTITION = partition_name(APP_KEY, ENDPOINT)


def tree(folder: Path) -> dict[str, bytes | str]:
    """Every file, folder and link below ``folder``, links not followed."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_symlink():
            found[name] = f"-> {os.readlink(path)}"
        elif path.is_dir():
            found[name] = f"dir {path.stat().st_mode:o}"
        else:
            found[name] = path.read_bytes()
    return found


def precious(root: Path) -> Path:
    """A folder of the victim's, laid out as the old command would have purged it."""
    for sub in ("conf.d", "keys"):
        (root / sub).mkdir(parents=True)
        for name in ("a.conf", "b.conf", "x.jsonl"):
            (root / sub / name).write_bytes(f"precious {sub}/{name}\n".encode())
    return root


def spool_one(shared: Path) -> Path:
    """The victim's own spool (``uid-0/<partition>``), one payload waiting."""
    spool = Spool(user_directory(shared) / PARTITION, Counters(), endpoint=ENDPOINT)
    assert spool.put([{"reconify": {}, "n": 1}])
    return spool.directory


def refused(done: subprocess.CompletedProcess[str], action: str, why: str) -> None:
    assert (done.returncode, done.stderr) == (2, f"reconify-otel spool {action}: error: {why}\n")


def test_a_user_folder_another_user_made_a_symlink_is_never_followed(
    shared: Path, tmp_path: Path
) -> None:
    victim = precious(tmp_path / "victim")
    before = tree(victim)
    as_user(NOBODY, lambda: os.symlink(victim, shared / "uid-0"))

    why = f"{shared}: uid-0 is a symlink; not followed, not used"
    listed = reconify_otel("list", spool=shared)
    refused(listed, "list", why)
    assert listed.stdout == f"spool: {shared / 'uid-0'}\n"  # conf.d and keys never shown
    for action in (["purge", "--all"], ["purge", "keys"], ["drain"]):
        refused(reconify_otel(*action, spool=shared), action[0], why)
    assert tree(victim) == before


@pytest.mark.parametrize("shared", [0o777], ids=["0777"], indirect=True)  # no sticky bit
def test_a_user_folder_swapped_for_a_symlink_is_never_followed(
    shared: Path, tmp_path: Path
) -> None:
    spool_one(shared)
    rootdata = tmp_path / "rootdata"
    (rootdata / "sub").mkdir(parents=True)
    (rootdata / "sub" / "important.db").write_bytes(b"x")
    before = tree(rootdata), tree(shared / "uid-0")

    def swap() -> None:
        os.rename(shared / "uid-0", shared / "moved")
        os.symlink(rootdata, shared / "uid-0")

    as_user(NOBODY, swap)
    refused(
        reconify_otel("purge", "--all", spool=shared),
        "purge",
        f"{shared}: uid-0 is a symlink; not followed, not used",
    )
    assert (tree(rootdata), tree(shared / "moved")) == before  # and the victim's spool kept


@pytest.mark.parametrize("planted", ["fifo", "dev-zero-link"])
def test_a_user_folder_another_user_made_is_refused_without_a_hang(
    shared: Path, planted: str
) -> None:
    def plant() -> None:
        partition = shared / "uid-0" / PARTITION
        partition.mkdir(parents=True)
        os.chmod(shared / "uid-0", 0o777)
        if planted == "fifo":
            os.mkfifo(partition / BATCH)
        else:
            os.symlink("/dev/zero", partition / BATCH)

    as_user(NOBODY, plant)
    why = (
        f"{shared}: uid-0 belongs to another user (uid {NOBODY}); not used. Remove it, "
        "or set spool_dir (RECONIFY_SPOOL_DIR) to a directory of this user's"
    )
    for action in (["list"], ["purge", "--all"], ["drain"]):
        done = reconify_otel(*action, spool=shared, timeout=15)  # TimeoutExpired: a hang
        refused(done, action[0], why)
    assert sorted(os.listdir(shared / "uid-0" / PARTITION)) == [BATCH]


def test_in_its_own_spool_what_is_not_its_own_spool_file_is_skipped_said_and_kept(
    private_spool: Path, tmp_path: Path
) -> None:
    """What only root (or an older layout) could put in the victim's own spool folder:
    each entry is passed over, said, and left in place; the rest is listed and purged."""
    part = private_spool / PARTITION
    Spool(part, Counters(), endpoint=ENDPOINT).put([{"reconify": {}, "n": 1}])
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes(json.dumps({"reconify": {}, "n": "outside"}).encode() + b"\n")
    bashrc = tmp_path / ".bashrc"
    bashrc.write_bytes(b"export PATH=/usr/bin\n")
    os.mkfifo(part / "00000000000000000002-1-0.jsonl")
    (part / "00000000000000000003-1-0.jsonl").symlink_to("/dev/zero")
    (part / "00000000000000000004-1-0.jsonl").symlink_to(outside)
    theirs = part / "00000000000000000005-1-0.jsonl"
    theirs.write_bytes(b'{"reconify": {}, "n": "theirs"}\n')
    os.chown(theirs, NOBODY, NOBODY)
    (part / "00000000000000000006-1-0.jsonl").write_bytes(b'{"reconify": {}}\n' * 100)
    (part / "00000000000000000006-1-0.bad").symlink_to(bashrc)
    (part / "a.conf").write_bytes(b"not a spool file\n")
    (private_spool / "fedcba9876543210").symlink_to(tmp_path)
    (private_spool / "0123456789abcdef").mkdir(mode=0o700)
    os.chown(private_spool / "0123456789abcdef", NOBODY, NOBODY)
    (private_spool / "1111111111111111").mkdir()
    os.chmod(private_spool / "1111111111111111", 0o777)
    (private_spool / "notes.txt").write_bytes(b"mine\n")
    kept = {p: tree(p) for p in (tmp_path, private_spool / "0123456789abcdef")}

    listed = reconify_otel("list", spool=private_spool, timeout=15, RECONIFY_SPOOL_MAX_BYTES="1024")
    assert (listed.returncode, listed.stderr) == (0, "")
    lines = listed.stdout.splitlines()
    assert lines[1].startswith(f"{PARTITION}  1 payloads in 1 files, oldest 0.0 h, for {ENDPOINT}")
    assert lines[2:] == [
        "  skipped 00000000000000000002-1-0.jsonl: not a regular file",
        "  skipped 00000000000000000003-1-0.jsonl: a symlink, not followed",
        "  skipped 00000000000000000004-1-0.jsonl: a symlink, not followed",
        f"  skipped 00000000000000000005-1-0.jsonl: another user's (uid {NOBODY})",
        "  skipped 00000000000000000006-1-0.jsonl: bigger than the spool's size cap "
        "(1024 bytes), not read",
        f"skipped 0123456789abcdef: belongs to another user (uid {NOBODY}); not used. "
        "Remove it, or set spool_dir (RECONIFY_SPOOL_DIR) to a directory of this user's",
        "skipped 1111111111111111: is open to other users' writes (mode 777); not used. "
        "Remove it, or chmod 700 it",
        "skipped fedcba9876543210: is a symlink; not followed, not used",
        "skipped notes.txt: not a partition (the spool names them by 16 hex digits)",
        "9 entries skipped: never read, sent or purged",
    ]

    named = reconify_otel("purge", "fedcba9876543210", spool=private_spool)
    assert (named.returncode, named.stdout) == (2, "")
    assert named.stderr == (
        "reconify-otel spool purge: error: partition 'fedcba9876543210': "
        "is a symlink; not followed, not used; not touched\n"
    )
    purged = reconify_otel("purge", "--all", spool=private_spool)  # the default cap: 50 MiB
    assert purged.returncode == 1
    assert purged.stdout == f"purged {PARTITION}: 101 payloads for {ENDPOINT}\n"
    errors = purged.stderr.splitlines()
    assert [e.split(":")[1].strip() for e in errors[:4]] == [
        "skipped 0123456789abcdef",
        "skipped 1111111111111111",
        "skipped fedcba9876543210",
        "skipped notes.txt",
    ]
    assert errors[4] == (
        f"reconify-otel spool purge: error: {PARTITION}: left in place: "
        "00000000000000000002-1-0.jsonl (not a regular file), "
        "00000000000000000003-1-0.jsonl (a symlink, not followed), "
        "00000000000000000004-1-0.jsonl (a symlink, not followed), "
        f"00000000000000000005-1-0.jsonl (another user's (uid {NOBODY})), "
        "00000000000000000006-1-0.bad (a symlink, not followed), "
        "a.conf (not a spool file)"
    )
    assert sorted(os.listdir(part)) == [
        "00000000000000000002-1-0.jsonl",
        "00000000000000000003-1-0.jsonl",
        "00000000000000000004-1-0.jsonl",
        "00000000000000000005-1-0.jsonl",
        "00000000000000000006-1-0.bad",
        "a.conf",
    ]  # the spooled batch, the big one (ours) and the endpoint file went
    assert {p: tree(p) for p in kept} == kept  # outside, .bashrc, the other user's partition
    assert (private_spool / "notes.txt").read_bytes() == b"mine\n"


def test_a_spool_dir_of_another_users_is_refused(shared: Path) -> None:
    theirs = shared / "theirs"
    as_user(NOBODY, lambda: theirs.mkdir(mode=0o700))
    for action in (["list"], ["purge", "--all"]):
        refused(
            reconify_otel(*action, spool=theirs),
            action[0],
            f"{theirs} belongs to another user (uid {NOBODY}); not used",
        )
