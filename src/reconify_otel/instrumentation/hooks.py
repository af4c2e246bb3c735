"""What each wrapped SDK method tells the tracker: one ``Hook`` per method, sync and async alike.

A hook only reads what the call was given and what it returned; the generic wrappers
(``wrappers.py``) call it around the original method and differ only by ``await``.
Streams, stream managers and async paginators are the same objects the SDK returned:
only the private iterator/page fetcher inside them is swapped for an observing one.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context

from reconify_otel.core.run_attributes import to_dict
from reconify_otel.instrumentation.guard import guarded
from reconify_otel.instrumentation.tracker import RunStart, RunTracker

Args = tuple[Any, ...]
Kwargs = dict[str, Any]


def _arg(args: Args, kwargs: Kwargs, name: str, index: int) -> Any:
    return kwargs[name] if name in kwargs else (args[index] if len(args) > index else None)


def _given(kwargs: Kwargs) -> Kwargs:
    """Drop ``omit``/``NOT_GIVEN`` values: the SDK's defaults, so the call is unchanged.

    An ``Omit`` left in kwargs reaches ``opentelemetry-instrumentation-openai`` when it
    is wrapped inside us, and its ``json.dumps`` of it raises into the application.
    """
    return {k: v for k, v in kwargs.items() if type(v).__name__ not in ("Omit", "NotGiven")}


def _as_model(result: Any) -> dict[str, Any] | None:
    """The parsed object, also from ``with_raw_response`` (its ``parse()`` is cached)."""
    if type(result).__name__ == "LegacyAPIResponse":
        if getattr(result, "_stream", False):
            return None
        result = result.parse()
    return to_dict(result)


def _run_of(result: Any) -> dict[str, Any] | None:
    model = _as_model(result)
    return model if model is not None and model.get("object") == "thread.run" else None


def _is_stream(result: Any) -> bool:
    return hasattr(result, "_iterator") and hasattr(result, "response")


@dataclass(frozen=True)
class Hook:
    """Callbacks around one SDK method; every one is optional and runs guarded."""

    prepare: Callable[[Kwargs], Kwargs] | None = None
    before: Callable[[Any, Args, Kwargs], Any] | None = None
    after: Callable[[Any, Any, Args, Kwargs, Any], None] | None = None  # token, instance, ...
    error: Callable[[Any, Args, Kwargs, BaseException], None] | None = None
    #: An assistant id to fetch first (``enrich_assistant``): the run's span needs its name.
    enrich: Callable[[Any, Args, Kwargs], str | None] | None = None


class Hooks:
    """The hook table; ``targets()`` says which class attribute each hook wraps."""

    def __init__(self, tracker: RunTracker, enrich_assistant: bool = False) -> None:
        self.tracker = tracker
        self.enrich_assistant = enrich_assistant
        self._managers: weakref.WeakKeyDictionary[Any, RunStart] = weakref.WeakKeyDictionary()

    # -- run starts ---------------------------------------------------------------------

    def _begin_run(self, _instance: Any, args: Args, kwargs: Kwargs) -> RunStart:
        return self.tracker.begin(
            otel_context.get_current(),
            _arg(args, kwargs, "thread_id", 0),
            kwargs.get("additional_messages"),
        )

    def _begin_thread_run(self, _instance: Any, _args: Args, kwargs: Kwargs) -> RunStart:
        thread = kwargs.get("thread")
        messages = thread.get("messages") if isinstance(thread, dict) else None
        return self.tracker.begin(otel_context.get_current(), None, messages)

    def _begin_resume(self, _instance: Any, args: Args, kwargs: Kwargs) -> RunStart:
        return self.tracker.begin(
            otel_context.get_current(),
            kwargs.get("thread_id"),
            run_id=_arg(args, kwargs, "run_id", 0),
        )

    def _started(self, start: RunStart, _instance: Any, _a: Args, _k: Kwargs, result: Any) -> None:
        if _is_stream(result):
            observe_stream(self.tracker, result, start)
            return
        run = _run_of(result)
        if run is not None:
            self.tracker.created(start, run)

    def _failed_start(self, start: RunStart, _a: Args, _k: Kwargs, exc: BaseException) -> None:
        self.tracker.fail(start, start.run_id, exc)

    def _assistant_to_fetch(self, _instance: Any, _args: Args, kwargs: Kwargs) -> str | None:
        assistant_id = kwargs.get("assistant_id")
        if not self.enrich_assistant or not isinstance(assistant_id, str):
            return None
        return None if self.tracker.assistant(assistant_id) else assistant_id

    # -- run sightings --------------------------------------------------------------------

    def _seen_run(self, _t: Any, _instance: Any, _a: Args, _k: Kwargs, result: Any) -> None:
        run = _run_of(result)
        if run is not None:
            self.tracker.observe_run(run)

    def _resumed(self, start: RunStart, inst: Any, args: Args, kw: Kwargs, result: Any) -> None:
        if _is_stream(result):
            observe_stream(self.tracker, result, start)
        else:
            self._seen_run(start, inst, args, kw, result)

    # -- stream managers (``runs.stream`` & co.): the request is sent at ``__enter__`` ---------

    def _manager_made(self, start: RunStart, _i: Any, _a: Args, _k: Kwargs, manager: Any) -> None:
        self._managers[manager] = start

    def _entering(self, manager: Any, _args: Args, _kwargs: Kwargs) -> RunStart:
        start = self._managers.pop(manager, None) or self.tracker.begin()
        fresh = self.tracker.begin(otel_context.get_current())
        start.start_ns, start.context = fresh.start_ns, fresh.context
        return start

    def _entered(self, start: RunStart, manager: Any, _a: Args, _k: Kwargs, _h: Any) -> None:
        for name, value in vars(manager).items():
            if name.endswith("__stream") and _is_stream(value):
                observe_stream(self.tracker, value, start)

    # -- messages and assistants -------------------------------------------------------------

    def _message_created(self, _t: Any, _i: Any, _a: Args, _k: Kwargs, result: Any) -> None:
        message = _as_model(result)
        if message is not None:
            self.tracker.remember_user_message(message)

    def _listed(self, _t: Any, _instance: Any, args: Args, kwargs: Kwargs, page: Any) -> None:
        thread_id = _arg(args, kwargs, "thread_id", 0)
        if hasattr(page, "_get_page"):  # AsyncPaginator: observe the page once awaited
            observe_paginator(self.tracker, page, thread_id)
        else:
            observe_page(self.tracker, page, thread_id)

    def _assistant_seen(self, _t: Any, _i: Any, _a: Args, _k: Kwargs, result: Any) -> None:
        assistant = _as_model(result)
        if assistant is not None and assistant.get("object") == "assistant":
            self.tracker.remember_assistant(assistant)

    # -- the table ---------------------------------------------------------------------------

    def targets(self) -> list[tuple[str, str, Hook]]:
        """(module, ``Class.method``, hook); sync and async classes share the hook."""
        run_start = Hook(
            _given, self._begin_run, self._started, self._failed_start, self._assistant_to_fetch
        )
        thread_run = Hook(
            _given,
            self._begin_thread_run,
            self._started,
            self._failed_start,
            self._assistant_to_fetch,
        )
        # A failed retrieve, poll or cancel says nothing about the run (a timeout the app
        # retries, a cancel that lost the race): its next sighting or its TTL decides.
        sighting = Hook(after=self._seen_run)
        resume = Hook(_given, self._begin_resume, self._resumed, self._failed_start)
        stream_helper = Hook(
            _given, self._begin_run, self._manager_made, None, self._assistant_to_fetch
        )
        table: list[tuple[str, str, Hook]] = []
        runs = "openai.resources.beta.threads.runs.runs"
        threads = "openai.resources.beta.threads.threads"
        messages = "openai.resources.beta.threads.messages"
        assistants = "openai.resources.beta.assistants"
        for cls in ("Runs", "AsyncRuns"):
            table += [
                (runs, f"{cls}.create", run_start),
                (runs, f"{cls}.retrieve", sighting),
                (runs, f"{cls}.poll", sighting),
                (runs, f"{cls}.cancel", sighting),
                (runs, f"{cls}.submit_tool_outputs", resume),
                (runs, f"{cls}.stream", stream_helper),
                (
                    runs,
                    f"{cls}.submit_tool_outputs_stream",
                    Hook(_given, self._begin_resume, self._manager_made),
                ),
            ]
        table += [
            (
                runs,
                "Runs.create_and_stream",
                Hook(
                    _with_handler,
                    self._begin_run,
                    self._manager_made,
                    None,
                    self._assistant_to_fetch,
                ),
            ),
            (runs, "AsyncRuns.create_and_stream", stream_helper),
        ]
        for cls in ("Threads", "AsyncThreads"):
            table += [
                (threads, f"{cls}.create_and_run", thread_run),
                (
                    threads,
                    f"{cls}.create_and_run_stream",
                    Hook(
                        _given,
                        self._begin_thread_run,
                        self._manager_made,
                        None,
                        self._assistant_to_fetch,
                    ),
                ),
            ]
        for cls in ("Messages", "AsyncMessages"):
            table += [
                (messages, f"{cls}.create", Hook(after=self._message_created)),
                (messages, f"{cls}.list", Hook(before=_upstream_omit_fix, after=self._listed)),
            ]
        for cls in ("Assistants", "AsyncAssistants"):
            for method in ("create", "retrieve", "update"):
                table.append((assistants, f"{cls}.{method}", Hook(after=self._assistant_seen)))
        managers = "openai.lib.streaming._assistants"
        entered = Hook(before=self._entering, after=self._entered)
        table += [
            (managers, "AssistantStreamManager.__enter__", entered),
            (managers, "AsyncAssistantStreamManager.__aenter__", entered),
        ]
        return table


def _with_handler(kwargs: Kwargs) -> Kwargs:
    """``create_and_stream`` without ``event_handler`` gets the SDK's own default explicitly.

    Same behaviour (the SDK does ``event_handler or AssistantEventHandler()``), but
    ``opentelemetry-instrumentation-openai`` inside us no longer hits ``KeyError``.
    """
    kwargs = _given(kwargs)
    if kwargs.get("event_handler") is None:
        from openai import AssistantEventHandler

        kwargs["event_handler"] = AssistantEventHandler()
    return kwargs


_UPSTREAM_WRAPPERS = "opentelemetry.instrumentation.openai.v1.assistant_wrappers"


def _upstream_omit_fix(_instance: Any, args: Args, kwargs: Kwargs) -> None:
    """Neutralize an upstream defect when its wrappers sit outside ours.

    ``runs.create_and_poll`` passes ``instructions=omit``; upstream's ``Runs.create``
    wrapper stores that ``Omit`` per thread and its ``Messages.list`` wrapper then fails
    ``json.dumps`` after the list succeeded, raising ``TypeError`` into the app. Just before
    that, inside its ``list`` wrapper, we replace the stored ``Omit`` by ``None``: what
    upstream stores when the argument is absent.
    """
    module = sys.modules.get(_UPSTREAM_WRAPPERS)
    state = getattr(module, "runs", None)
    entry = state.get(_arg(args, kwargs, "thread_id", 0)) if isinstance(state, dict) else None
    if isinstance(entry, dict):
        for key, value in list(entry.items()):
            if type(value).__name__ in ("Omit", "NotGiven"):
                entry[key] = None


# -- in-place observation of SDK objects -----------------------------------------------------


def _event(tracker: RunTracker, start: RunStart, event: Any) -> None:
    name = getattr(event, "event", None)
    if not isinstance(name, str) or name.endswith(".delta"):
        return
    if name == "thread.created":
        data = to_dict(getattr(event, "data", None)) or {}
        start.thread_id = start.thread_id or data.get("id")
        return
    tracker.observe_event(start, name, to_dict(getattr(event, "data", None)))


def observe_stream(tracker: RunTracker, stream: Any, start: RunStart) -> None:
    """Swap the stream's private iterator for one that reports each event first."""

    inner = stream._iterator

    def failed(exc: BaseException) -> None:
        tracker.fail(start, start.run_id, exc)

    def sync_events() -> Iterator[Any]:
        try:
            for event in inner:
                guarded(_event, tracker, start, event)
                yield event
        except Exception as exc:
            guarded(failed, exc)
            raise

    async def async_events() -> AsyncIterator[Any]:
        try:
            async for event in inner:
                guarded(_event, tracker, start, event)
                yield event
        except Exception as exc:
            guarded(failed, exc)
            raise

    stream._iterator = async_events() if hasattr(inner, "__anext__") else sync_events()


def observe_page(tracker: RunTracker, page: Any, thread_id: Any) -> None:
    messages = [m for m in (to_dict(item) for item in getattr(page, "data", None) or []) if m]
    tracker.observe_messages(thread_id, messages)


def observe_paginator(tracker: RunTracker, paginator: Any, thread_id: Any) -> None:
    """``await client.beta.threads.messages.list(...)`` fetches later: observe that page."""

    fetch = paginator._get_page

    async def get_page() -> Any:
        page = await fetch()
        guarded(observe_page, tracker, page, thread_id)
        return page

    paginator._get_page = get_page
