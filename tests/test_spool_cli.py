"""``reconify-otel spool list|drain|purge`` as a user runs it: real subprocesses, a real
spool, the loopback sink."""

from __future__ import annotations

from pathlib import Path

from reconify_otel import ReconifySpanExporter
from reconify_otel.offline.sink import ReconifySink

from .helpers import API_KEY, APP_KEY, CURRENT, make_span
from .spool_users import reconify_otel


def spool_for_a_wrong_endpoint(count: int) -> str:
    """Spans exported to an endpoint nobody listens on: they wait in the spool."""
    with ReconifySink() as gone:
        wrong = f"{gone.url}/wrong"
    exporter = ReconifySpanExporter(wrong, APP_KEY, API_KEY, export_timeout=0.5)
    spans = [
        make_span("openai.assistant.run", {**CURRENT, "gen_ai.response.1.id": f"msg_{n}"})
        for n in range(count)
    ]
    exporter.export(spans)
    exporter.shutdown()
    assert exporter.stats()["spooled"] == count
    return wrong


def test_list_shows_the_path_and_each_partitions_payloads_and_endpoint(
    private_spool: Path,
) -> None:
    wrong = spool_for_a_wrong_endpoint(3)
    done = reconify_otel("list", spool=private_spool)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"spool: {private_spool}"
    (partition,) = [p.name for p in private_spool.iterdir()]
    assert lines[1].startswith(f"{partition}  3 payloads in 1 files, oldest 0.0 h, for {wrong}")
    assert APP_KEY not in done.stdout and API_KEY not in done.stdout


def test_drain_sends_a_partition_to_the_endpoint_configured_now(
    private_spool: Path, sink: ReconifySink
) -> None:
    spool_for_a_wrong_endpoint(3)
    (partition,) = [p.name for p in private_spool.iterdir()]
    done = reconify_otel("drain", partition, spool=private_spool, endpoint=f"{sink.url}/track")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"{partition}: 3 of 3 payloads sent to {sink.url}/track, 0 rejected"
    )
    assert sorted(p["response"]["id"] for p in sink.payloads) == ["msg_0", "msg_1", "msg_2"]
    assert {p["reconify"]["appKey"] for p in sink.payloads} == {APP_KEY}
    assert list(private_spool.iterdir()) == []  # drained: nothing left behind


def test_drain_to_an_endpoint_that_is_down_keeps_the_payloads(private_spool: Path) -> None:
    wrong = spool_for_a_wrong_endpoint(2)
    done = reconify_otel("drain", spool=private_spool, endpoint=wrong, RECONIFY_TIMEOUT="1")
    assert done.returncode == 1
    assert "the rest still waits" in done.stdout
    assert "2 payloads" in reconify_otel("list", spool=private_spool).stdout


def test_purge_deletes_and_an_unknown_partition_is_an_error(private_spool: Path) -> None:
    spool_for_a_wrong_endpoint(2)
    unknown = reconify_otel("purge", "0123456789abcdef", spool=private_spool)
    assert unknown.returncode == 2 and "no partition '0123456789abcdef'" in unknown.stderr
    done = reconify_otel("purge", "--all", spool=private_spool)
    assert done.returncode == 0 and done.stdout.startswith("purged ")
    assert list(private_spool.iterdir()) == []
    assert reconify_otel("list", spool=private_spool).stdout.splitlines()[1] == "nothing waiting"
