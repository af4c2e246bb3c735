"""3. Cost on the application thread per Assistants run, real openai SDK, API in its own process."""

from __future__ import annotations

import time
from typing import Any

from benchmarks.common import PYTHON, child, median, sink_process
from benchmarks.harness import BenchRun, fmt, log, new_exporter, rotated, table

QUESTION = "I need to solve the equation `3x + 11 = 14`. Can you help me?"


def bench(run: BenchRun) -> None:
    from openai import OpenAI
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from reconify_otel.instrumentation import AssistantsInstrumentor

    sizes, report = run.sizes, run.report
    log("3. application thread")
    configs = ["none", "reconify", "upstream"]
    wall: dict[str, list[float]] = {c: [] for c in configs}
    cpu: dict[str, list[float]] = {c: [] for c in configs}
    sent: dict[str, int] = dict.fromkeys(configs, 0)
    runs_done: dict[str, int] = dict.fromkeys(configs, 0)
    problems: list[str] = []
    api_args = [PYTHON, "-m", "benchmarks.assistants_server"]
    with child(api_args) as (_proc, port), sink_process() as sink_base:
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-bench", max_retries=0)
        assistant = client.beta.assistants.create(
            name="Math Tutor", model="gpt-4o-mini", instructions="You are a math tutor."
        )

        def one_run(thread_id: str) -> None:
            client.beta.threads.messages.create(thread_id=thread_id, role="user", content=QUESTION)
            run = client.beta.threads.runs.create_and_poll(
                thread_id=thread_id,
                assistant_id=assistant.id,
                # Explicit: without it opentelemetry-instrumentation-openai 0.62 fails to
                # json.dumps the SDK's Omit sentinel inside messages.list (an upstream bug).
                instructions="Please address the user as Jane Doe.",
            )
            if run.status != "completed":
                problems.append(f"run ended {run.status}")
            # Keywords: opentelemetry-instrumentation-openai reads thread_id from kwargs only.
            client.beta.threads.messages.list(thread_id=thread_id, limit=1, run_id=run.id)

        for rep in range(sizes.app_reps):
            for config in rotated(configs, rep):
                provider = TracerProvider()
                exporter = new_exporter(f"{sink_base}/track")
                provider.add_span_processor(BatchSpanProcessor(exporter))
                instrumentor: Any = None
                if config == "reconify":
                    instrumentor = AssistantsInstrumentor()
                elif config == "upstream":
                    instrumentor = OpenAIInstrumentor()
                if instrumentor is not None:
                    instrumentor.instrument(tracer_provider=provider)
                thread = client.beta.threads.create()
                one_run(thread.id)  # warm-up, not timed
                block_wall, block_cpu = [], []
                for _ in range(sizes.app_runs):
                    started, cpu_started = time.perf_counter(), time.thread_time()
                    one_run(thread.id)
                    block_cpu.append(time.thread_time() - cpu_started)
                    block_wall.append(time.perf_counter() - started)
                if instrumentor is not None:
                    instrumentor.uninstrument()
                provider.shutdown()
                wall[config].extend(block_wall)
                cpu[config].extend(block_cpu)
                sent[config] += exporter.stats().get("accepted", 0)
                runs_done[config] += sizes.app_runs + 1
    base_wall, base_cpu = median(wall["none"]), median(cpu["none"])
    labels = {
        "none": "(i) no instrumentation",
        "reconify": "(ii) AssistantsInstrumentor + BatchSpanProcessor(ReconifySpanExporter)",
        "upstream": "(iii) OpenAIInstrumentor + BatchSpanProcessor(ReconifySpanExporter)",
    }
    rows = []
    for config in configs:
        w, c = median(wall[config]), median(cpu[config])
        rows.append(
            [
                labels[config],
                fmt(w * 1e3, 2),
                f"{(w / base_wall - 1) * 100:+.1f}%",
                fmt(c * 1e3, 2),
                f"{(c / base_cpu - 1) * 100:+.1f}%",
                f"{sent[config]} / {runs_done[config]}",
            ]
        )
    ours = median(wall["reconify"]) / base_wall - 1
    theirs = median(wall["upstream"]) / base_wall - 1
    verdicts = [
        report.target(
            "3. (ii) over (i), wall per run", f"{ours * 100:+.1f}%", "<= +5%", ours <= 0.05
        ),
        report.target(
            "3. (ii) adds no more than (iii)",
            f"{ours * 100:+.1f}% vs {theirs * 100:+.1f}%",
            "(ii) <= (iii)",
            ours <= theirs,
        ),
    ]
    note = "" if not problems else "\n\nProblems: " + "; ".join(sorted(set(problems)))
    report.add(
        "## 3. Cost on the application thread per run\n\n"
        "The real `openai` SDK against `SimulatedAssistantsAPI` in **its own process** "
        "(`python -m benchmarks.assistants_server`); the documented polling flow per run: "
        "`messages.create`, `runs.create_and_poll`, `messages.list(limit=1, run_id=...)`. "
        "Exporter in (ii) and (iii): the same `ReconifySpanExporter` (default settings) in a "
        "`BatchSpanProcessor`, sending to a sink process. Blocks of "
        f"{sizes.app_runs} runs (after one warm-up run), configurations interleaved "
        f"(order rotating), {sizes.app_reps} blocks each; medians over all "
        f"{sizes.app_runs * sizes.app_reps} timed runs of a configuration. Short blocks, "
        "many of them: the loopback round trip drifts between two levels over seconds "
        "(scheduling of the two processes on 2 cores), and interleaving cancels that. "
        "CPU = `time.thread_time()` of the application thread.\n\n"
        + table(
            [
                "configuration",
                "wall ms/run",
                "vs (i)",
                "app-thread CPU ms/run",
                "vs (i)",
                "interactions accepted / runs",
            ],
            rows,
        )
        + note
        + "\n\n"
        + "\n".join(f"- {v}" for v in verdicts)
    )
