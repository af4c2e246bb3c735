"""The on-disk spool: private, atomic, bounded, shared safely between processes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconify_otel.delivery.spool import Spool, SpoolUnavailable
from reconify_otel.runtime.counters import Counters

KEY = "app-key-5f3c9e1d7a"


def spool_at(directory: Path, counters: Counters | None = None, **limits: float) -> Spool:
    return Spool(directory, KEY, counters or Counters(), **limits)  # type: ignore[arg-type]


def payload(n: int, size: int = 10) -> dict[str, object]:
    return {"n": n, "text": "x" * size}


def test_private_files_and_no_keys_on_disk(tmp_path: Path) -> None:
    spool = spool_at(tmp_path / "spool")
    assert spool.put([payload(1), payload(2)])
    assert stat.S_IMODE((tmp_path / "spool").stat().st_mode) == 0o700
    assert stat.S_IMODE(spool.directory.stat().st_mode) == 0o700
    (only,) = list(spool.directory.iterdir())
    assert stat.S_IMODE(only.stat().st_mode) == 0o600
    assert only.suffix == ".jsonl"  # no temporary file left behind
    assert KEY not in only.read_text() and KEY not in str(only)  # partition name is a hash
    assert [json.loads(line)["n"] for line in only.read_text().splitlines()] == [1, 2]


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    directory.mkdir(mode=0o777)
    os.chmod(directory, 0o777)
    spool_at(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a directory another user owns")
def test_a_directory_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "theirs"
    directory.mkdir()
    os.chown(directory, 12345, 12345)
    with pytest.raises(SpoolUnavailable):
        spool_at(directory)


def test_claims_oldest_first_and_release_keeps_the_rest(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    for n in range(3):
        spool.put([payload(n * 10), payload(n * 10 + 1)])
    claimed = list(spool.claim(max_files=2))
    assert [c.payloads[0]["n"] for c in claimed] == [0, 10]
    spool.release(claimed[0], [])  # delivered
    spool.release(claimed[1], [claimed[1].payloads[1]])  # one of two delivered
    rest = list(spool.claim())
    assert [[p["n"] for p in c.payloads] for c in rest] == [[11], [20, 21]]
    for c in rest:
        spool.release(c, c.payloads)  # nothing delivered: all stays
    assert spool.stats()[0] == 2


def test_byte_cap_drops_the_oldest_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    counters = Counters()
    spool = spool_at(tmp_path, counters, max_bytes=3000)
    for n in range(10):
        spool.put([payload(n, size=900)])
    files, size = spool.stats()
    assert size <= 3000 and files == 3
    assert [c.payloads[0]["n"] for c in spool.claim()] == [7, 8, 9]  # locks freed with the fds
    assert counters.snapshot()["spool_dropped"] == 7
    assert "over the 3000-byte cap" in caplog.text


def test_retention_drops_old_files(tmp_path: Path) -> None:
    counters = Counters()
    spool = spool_at(tmp_path, counters, retention_seconds=3600)
    spool.put([payload(1)])
    spool.put([payload(2)])
    old = sorted(spool.directory.iterdir())[0]
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    assert [c.payloads[0]["n"] for c in spool.claim()] == [2]
    assert counters.snapshot()["spool_dropped"] == 1


def test_corrupt_file_is_removed_and_counted(tmp_path: Path) -> None:
    counters = Counters()
    spool = spool_at(tmp_path, counters)
    spool.put([payload(1)])
    (spool.directory / "00000000000000000001-1-0.jsonl").write_text("{not json\n")
    assert [c.payloads[0]["n"] for c in spool.claim()] == [1]
    assert counters.snapshot()["spool_corrupt_files"] == 1


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
    first = sorted(spool.directory.iterdir())[0]
    holder = hold_lock(first)
    try:
        claimed = list(spool.claim())
        assert [c.payloads[0]["n"] for c in claimed] == [2]
        for c in claimed:
            spool.release(c, [])
    finally:
        holder.kill()
        holder.wait()


def test_a_claim_of_a_killed_process_is_taken_back(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    spool.put([payload(1)])
    (only,) = list(spool.directory.iterdir())
    holder = hold_lock(only)
    holder.send_signal(9)  # SIGKILL: the kernel drops the lock
    holder.wait()
    claimed = list(spool.claim())
    assert [c.payloads[0]["n"] for c in claimed] == [1]
    spool.release(claimed[0], [])
    assert not spool.waiting()


def test_files_that_vanish_mid_listing_are_no_error(tmp_path: Path) -> None:
    spool = spool_at(tmp_path, max_bytes=10_000)
    for n in range(20):
        spool.put([payload(n)])
    for path in list(spool.directory.iterdir())[::2]:
        path.unlink()
    assert spool.stats()[0] == 10
    assert len(list(spool.claim(max_files=100))) == 10
