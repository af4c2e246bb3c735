"""A spool folder other users can write to: another user (a forked child running as
``nobody``) plants partitions, payloads and symlinks; the victim never writes into them,
never sends what they hold, and never follows a link. Each user of a shared folder gets
a folder of its own. Temporary files of a writer killed mid-write are removed, counted."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from reconify_otel import ReconifySpanExporter
from reconify_otel.delivery.spool import Spool, partition_name
from reconify_otel.delivery.spool_fs import user_directory
from reconify_otel.offline.sink import ReconifySink
from reconify_otel.runtime.counters import Counters

from .helpers import API_KEY, APP_KEY, CURRENT, make_span
from .spool_users import NEEDS_ROOT, NOBODY, OTHER, as_user

pytestmark = NEEDS_ROOT

OLD_NAME = "00000000000000000001-1-0"  # sorts first: the victim would resend it first


def planted_payload() -> bytes:
    return json.dumps({"reconify": {"format": "openai"}, "response": {"id": "planted"}}).encode()


@pytest.fixture
def bashrc(tmp_path: Path) -> Path:
    """The victim's file an attacker would like appended to."""
    path = tmp_path / ".bashrc"
    path.write_bytes(b"export PATH=/usr/bin\n")
    return path


def snapshot(folder: Path) -> dict[str, bytes | str]:
    return {
        p.name: os.readlink(p) if p.is_symlink() else p.read_bytes()
        for p in sorted(folder.iterdir())
    }


def spans(count: int) -> list[ReadableSpan]:
    return [
        make_span("openai.assistant.run", {**CURRENT, "gen_ai.response.1.id": f"msg_{n:06d}"})
        for n in range(count)
    ]


@pytest.mark.slow  # about 5 s each: a second user's processes (.ci/run runs it)
def test_a_partition_another_user_planted_is_never_written_read_or_followed(
    shared: Path, bashrc: Path, sink: ReconifySink
) -> None:
    endpoint = f"{sink.url}/track"
    theirs = shared / partition_name(APP_KEY, endpoint)  # where the victim used to spool

    def plant() -> None:
        theirs.mkdir(mode=0o777)
        os.chmod(theirs, 0o777)
        (theirs / f"{OLD_NAME}.jsonl").write_bytes(planted_payload() + b"\nnot json\n")
        os.symlink(bashrc, theirs / f"{OLD_NAME}.bad")

    as_user(NOBODY, plant)
    planted = snapshot(theirs)
    before = bashrc.read_bytes()

    sink.outage(3600, status=503)
    exporter = ReconifySpanExporter(
        endpoint, APP_KEY, API_KEY, spool_dir=str(shared), spool_retry_seconds=0.5
    )
    assert exporter.export(spans(20)) is SpanExportResult.FAILURE  # spooled
    mine = shared / f"uid-{os.getuid()}" / theirs.name
    info = mine.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o700)
    assert stat.S_IMODE(mine.parent.stat().st_mode) == 0o700
    assert len(list(mine.glob("*.jsonl"))) == 1
    assert snapshot(theirs) == planted  # nothing written into the attacker's folder

    sink.end_outage()
    assert sink.wait_for(20, timeout=30)
    time.sleep(0.5)  # the planted payload would arrive now
    assert sorted(p["response"]["id"] for p in sink.payloads) == [f"msg_{n:06d}" for n in range(20)]
    assert bashrc.read_bytes() == before
    assert snapshot(theirs) == planted
    stats = exporter.stats()
    assert (stats["spooled"], stats["resent_accepted"], stats["spool_bad_lines"]) == (20, 20, 0)
    exporter.shutdown()


@pytest.mark.parametrize("planted_as", ["folder", "symlink"])
def test_a_user_folder_another_user_made_is_refused(
    shared: Path, bashrc: Path, tmp_path: Path, planted_as: str
) -> None:
    victim_dir = tmp_path / "victim-dir"  # a folder of the victim's an attacker links to
    victim_dir.mkdir(mode=0o700)
    user_folder = shared / f"uid-{os.getuid()}"
    name = partition_name(APP_KEY, "https://track.example/track")

    def plant() -> None:
        if planted_as == "symlink":
            os.symlink(victim_dir, user_folder)
            return
        user_folder.mkdir(mode=0o777)
        os.chmod(user_folder, 0o777)
        (user_folder / name).mkdir(mode=0o777)
        (user_folder / name / f"{OLD_NAME}.jsonl").write_bytes(planted_payload() + b"\n")

    as_user(NOBODY, plant)
    counters = Counters()
    spool = Spool(user_directory(shared) / name, counters, endpoint="https://track.example")
    assert spool.directory.parent == user_folder
    assert not spool.put([json.loads(planted_payload())])  # refused, counted
    assert counters.snapshot()["spool_write_failed"] == 1
    assert spool.claim() == [] and not spool.waiting()  # the planted payload is never read
    assert list(victim_dir.iterdir()) == []  # nothing written through the link
    assert bashrc.read_bytes() == b"export PATH=/usr/bin\n"


def test_two_users_share_one_spool_dir_each_in_a_folder_of_its_own(shared: Path) -> None:
    name = partition_name(APP_KEY, "https://track.example/track")

    def spool_and_claim(uid: int) -> Callable[[], None]:
        def work() -> None:
            spool = Spool(user_directory(shared) / name, Counters())
            assert spool.put([{"reconify": {}, "by": uid}])
            (claimed,) = spool.claim()  # its own payload, and only its own
            assert claimed.payloads == [{"reconify": {}, "by": uid}]
            spool.release(claimed, claimed.payloads)  # still waiting

        return work

    as_user(NOBODY, spool_and_claim(NOBODY))
    as_user(OTHER, spool_and_claim(OTHER))
    for uid in (NOBODY, OTHER):
        partition = shared / f"uid-{uid}" / name
        for folder in (partition.parent, partition):
            info = folder.stat()
            assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (uid, 0o700)
        (only,) = partition.glob("*.jsonl")
        info = only.stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (uid, 0o600)
        assert json.loads(only.read_bytes()) == {"reconify": {}, "by": uid}
    assert sorted(p.name for p in shared.iterdir()) == [f"uid-{OTHER}", f"uid-{NOBODY}"]


def test_in_its_own_partition_a_symlink_or_another_users_file_is_never_followed_or_sent(
    tmp_path: Path, bashrc: Path
) -> None:
    """The second line of defence: these can only get into a private partition through
    root or an older layout; each is skipped (counted once), the rest is resent."""
    counters = Counters()
    spool = Spool(tmp_path / "spool" / "p", counters)
    assert spool.put([{"reconify": {}, "n": 1}])
    foreign = spool.directory / f"{OLD_NAME}.jsonl"
    foreign.write_bytes(planted_payload() + b"\n")
    os.chown(foreign, NOBODY, NOBODY)
    outside = tmp_path / "outside.jsonl"  # a payload file of the victim's, elsewhere
    outside.write_bytes(planted_payload() + b"\n")
    (spool.directory / "00000000000000000002-1-0.jsonl").symlink_to(outside)
    with_bad = spool.directory / "00000000000000000003-1-0.jsonl"
    with_bad.write_bytes(b'{"reconify": {}, "n": 3}\nnot json\n')
    (spool.directory / "00000000000000000003-1-0.bad").symlink_to(bashrc)
    before = bashrc.read_bytes()

    sent = []
    for _ in range(3):
        for claimed in spool.claim():
            sent += [p["n"] for p in claimed.payloads]
            spool.release(claimed, [])
    assert sorted(sent) == [1, 3]  # never the planted one
    assert bashrc.read_bytes() == before  # the .bad symlink was not followed
    assert outside.read_bytes() == planted_payload() + b"\n"
    snapshot = counters.snapshot()
    assert (snapshot["spool_unopenable_files"], snapshot["spool_bad_lines"]) == (2, 1)
    assert foreign.exists()  # skipped, not ours to delete


DEAD = "00000000000000000005-9-0.jsonl.9.0.tmp"
LIVE = "00000000000000000006-9-0.jsonl.9.1.tmp"
KILLED_MID_WRITE = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, b'{"reconify": {}, "half')
print("writing", flush=True)
time.sleep(60)
"""


def test_temporary_files_of_a_writer_killed_mid_write_are_removed_and_counted(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path / "p", Counters())
    assert spool.put([{"reconify": {}, "n": 1}])

    def writer(name: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLED_MID_WRITE, name],
            cwd=spool.directory,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        return proc

    killed = writer(DEAD)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    alive = writer(LIVE)  # slow, but its writer lives
    fresh = spool.directory / "00000000000000000007-9-0.jsonl.9.2.tmp"
    fresh.write_bytes(b"{")  # too recent to judge
    an_hour_ago = time.time() - 3600
    for name in (DEAD, LIVE):
        os.utime(spool.directory / name, (an_hour_ago, an_hour_ago))
    try:
        counters = Counters()
        restarted = Spool(spool.directory, counters)  # a new process starts
        (claimed,) = restarted.claim()
        assert claimed.payloads == [{"reconify": {}, "n": 1}]
        restarted.release(claimed, [])
        left = sorted(p.name for p in spool.directory.iterdir())
        assert left == [LIVE, fresh.name]
        assert counters.snapshot()["spool_orphans_removed"] == 1
    finally:
        alive.kill()
        alive.wait()
