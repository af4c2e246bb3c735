"""The on-disk spool: private, atomic, bounded, shared safely between processes, and not
stopped by one bad line or one bad file."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconify_otel.delivery.spool import ENDPOINT_FILE, Spool, SpoolUnavailable, partition_name
from reconify_otel.runtime.counters import Counters

KEY = "app-key-5f3c9e1d7a"
ENDPOINT = "https://track.example/track"


def spool_at(base: Path, counters: Counters | None = None, **limits: float) -> Spool:
    return Spool(
        base / partition_name(KEY, ENDPOINT),
        counters or Counters(),
        endpoint=ENDPOINT,
        **limits,  # type: ignore[arg-type]
    )


def payload(n: int, size: int = 10) -> dict[str, object]:
    return {"reconify": {"format": "openai"}, "n": n, "text": "x" * size}


def numbers(spool: Spool) -> list[list[object]]:
    claimed = spool.claim()
    for c in claimed:
        spool.release(c, c.payloads)
    return [[p["n"] for p in c.payloads] for c in claimed]


def test_private_files_and_no_keys_on_disk(tmp_path: Path) -> None:
    spool = spool_at(tmp_path / "spool")
    assert spool.put([payload(1), payload(2)])
    assert stat.S_IMODE((tmp_path / "spool").stat().st_mode) == 0o700
    assert stat.S_IMODE(spool.directory.stat().st_mode) == 0o700
    (only,) = list(spool.directory.glob("*.jsonl"))
    assert stat.S_IMODE(only.stat().st_mode) == 0o600
    assert KEY not in only.read_text() and KEY not in str(only)  # partition name is a hash
    assert [json.loads(line)["n"] for line in only.read_text().splitlines()] == [1, 2]
    assert (spool.directory / ENDPOINT_FILE).read_text() == ENDPOINT
    assert sorted(p.name for p in spool.directory.iterdir()) == sorted([ENDPOINT_FILE, only.name])


def test_no_folder_until_something_is_written_and_none_left_when_drained(
    tmp_path: Path,
) -> None:
    spool = spool_at(tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing spooled: nothing made
    spool.put([payload(1)])
    (claimed,) = spool.claim()
    spool.release(claimed, [])
    spool.remove_if_empty()  # as a resend round ends
    assert list(tmp_path.iterdir()) == []  # drained: the partition is gone
    spool.put([payload(2)])  # and comes back on the next write
    assert numbers(spool) == [[2]]


def test_a_loose_directory_the_user_chose_is_warned_about_not_changed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "spool"
    directory.mkdir()
    os.chmod(directory, 0o755)
    spool = spool_at(directory)
    spool.put([payload(1)])
    assert stat.S_IMODE(directory.stat().st_mode) == 0o755
    assert stat.S_IMODE(spool.directory.stat().st_mode) == 0o700  # ours: private
    assert "open to other users (mode 755)" in caplog.text


def test_a_symlinked_spool_dir_keeps_its_targets_permissions(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    os.chmod(target, 0o755)
    link = tmp_path / "link"
    link.symlink_to(target)
    spool = spool_at(link)
    spool.put([payload(1)])
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert numbers(spool) == [[1]]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a directory another user owns")
@pytest.mark.parametrize("through_a_symlink", [False, True])
def test_a_directory_owned_by_someone_else_is_refused(
    tmp_path: Path, through_a_symlink: bool
) -> None:
    directory = tmp_path / "theirs"
    directory.mkdir()
    os.chown(directory, 12345, 12345)
    if through_a_symlink:
        (tmp_path / "link").symlink_to(directory)
        directory = tmp_path / "link"
    with pytest.raises(SpoolUnavailable, match="belongs to another user"):
        spool_at(directory)


def test_claims_oldest_first_and_release_keeps_the_rest(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    for n in range(3):
        spool.put([payload(n * 10), payload(n * 10 + 1)])
    claimed = spool.claim(max_payloads=3)  # whole files, until 3 payloads
    assert [c.payloads[0]["n"] for c in claimed] == [0, 10]
    spool.release(claimed[0], [])  # delivered
    spool.release(claimed[1], [claimed[1].payloads[1]])  # one of two delivered
    assert numbers(spool) == [[11], [20, 21]]
    assert spool.stats()[0] == 2


def test_byte_cap_drops_the_oldest_counted_in_payloads_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="reconify_otel")
    counters = Counters()
    spool = spool_at(tmp_path, counters, max_bytes=3000)
    spool.put([payload(n, size=100) for n in range(10)])  # one file, ten payloads
    for n in range(10, 13):
        spool.put([payload(n, size=900)])
    assert spool.stats() == (3, sum(f.stat().st_size for f in spool.directory.glob("*.jsonl")))
    assert spool.stats()[1] <= 3000
    assert numbers(spool) == [[10], [11], [12]]
    assert counters.snapshot()["spool_dropped"] == 10  # payloads, not files
    for n in range(13, 40):
        spool.put([payload(n, size=900)])
    lines = [r for r in caplog.records if "byte cap" in r.getMessage()]
    assert len(lines) == 1 and str(spool.directory) in lines[0].getMessage()


def test_retention_drops_old_files(tmp_path: Path) -> None:
    counters = Counters()
    spool = spool_at(tmp_path, counters, retention_seconds=3600)
    spool.put([payload(1), payload(2)])
    spool.put([payload(3)])
    old = sorted(spool.directory.glob("*.jsonl"))[0]
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    assert numbers(spool) == [[3]]
    assert counters.snapshot()["spool_dropped"] == 2


BAD_LINES = [
    b'{"reconify": {"format": "openai"}, "n": ',  # truncated
    b"\x00\x00\x00\x00",  # NUL bytes (a crash mid-write on some file systems)
    b"\xff\xfe garbage",
    b'{"hello": 1}',  # JSON, but not a payload
    b"[1, 2]",
]


def test_bad_lines_are_quarantined_and_counted_the_good_ones_resent(tmp_path: Path) -> None:
    counters = Counters()
    spool = spool_at(tmp_path, counters)
    spool.put([payload(n) for n in range(100)])
    (path,) = spool.directory.glob("*.jsonl")
    lines = path.read_bytes().splitlines()
    mixed = lines[:50] + BAD_LINES + lines[50:]
    path.write_bytes(b"\n".join(mixed) + b"\n")
    (claimed,) = spool.claim()
    assert [p["n"] for p in claimed.payloads] == list(range(100))
    spool.release(claimed, claimed.payloads[60:])  # 60 delivered
    assert counters.snapshot()["spool_bad_lines"] == len(BAD_LINES)
    quarantine = path.with_name(path.name.removesuffix(".jsonl") + ".bad")
    assert quarantine.read_bytes().splitlines() == BAD_LINES
    assert numbers(spool) == [list(range(60, 100))]  # the bad lines are not read twice
    assert counters.snapshot()["spool_bad_lines"] == len(BAD_LINES)


def test_an_entry_that_cannot_be_opened_is_skipped_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    counters = Counters()
    spool = spool_at(tmp_path, counters)
    spool.put([payload(1)])
    (spool.directory / "00000000000000000001-1-0.jsonl").mkdir()  # oldest, unopenable
    spool.put([payload(2)])
    for _ in range(3):
        assert numbers(spool) == [[1], [2]]
    assert counters.snapshot()["spool_unopenable_files"] == 1
    assert len([r for r in caplog.records if "cannot open" in r.getMessage()]) == 1


HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)
"""


def hold_lock(path: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_a_file_another_live_process_is_sending_is_left_alone(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    spool.put([payload(1)])
    spool.put([payload(2)])
    first = sorted(spool.directory.glob("*.jsonl"))[0]
    holder = hold_lock(first)
    try:
        assert numbers(spool) == [[2]]
    finally:
        holder.kill()
        holder.wait()


def test_a_claim_of_a_killed_process_is_taken_back(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    spool.put([payload(1)])
    (only,) = list(spool.directory.glob("*.jsonl"))
    holder = hold_lock(only)
    holder.send_signal(9)  # SIGKILL: the kernel drops the lock
    holder.wait()
    (claimed,) = spool.claim()
    assert [p["n"] for p in claimed.payloads] == [1]
    spool.release(claimed, [])
    assert not spool.waiting()


def test_files_that_vanish_mid_listing_are_no_error(tmp_path: Path) -> None:
    spool = spool_at(tmp_path, max_bytes=10_000)
    for n in range(20):
        spool.put([payload(n)])
    for path in sorted(spool.directory.glob("*.jsonl"))[::2]:
        path.unlink()
    assert spool.stats()[0] == 10
    assert len(spool.claim(max_payloads=100)) == 10
