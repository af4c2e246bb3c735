"""``AssistantsInstrumentor``: one complete ``invoke_agent`` span per OpenAI Assistants run.

Works for ``OpenAI``, ``AsyncOpenAI``, ``AzureOpenAI`` and ``AsyncAzureOpenAI`` (they share
the resource classes wrapped here) and beside ``opentelemetry-instrumentation-openai``,
whose run spans it marks as superseded (see docs/attributes.md, "Coexistence").

    AssistantsInstrumentor().instrument(tracer_provider=provider)
    ...
    AssistantsInstrumentor().uninstrument()  # the SDK's methods are restored exactly
"""

from __future__ import annotations

import atexit
import importlib
import inspect
import logging
import threading
import weakref
from collections.abc import Collection
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from wrapt import FunctionWrapper

from reconify_otel.instrumentation.emit import SpanEmitter
from reconify_otel.instrumentation.hooks import Hooks
from reconify_otel.instrumentation.supersede import SupersedeUpstreamRuns
from reconify_otel.instrumentation.tracker import Limits, RunTracker
from reconify_otel.instrumentation.wrappers import Switch, make_wrapper
from reconify_otel.settings import env_flag
from reconify_otel.version import __version__

__all__ = ["ENV_CAPTURE_CONTENT", "AssistantsInstrumentor", "Limits"]

logger = logging.getLogger("reconify_otel")

ENV_CAPTURE_CONTENT = "RECONIFY_CAPTURE_CONTENT"
_SCOPE = "reconify_otel.instrumentation"
_SUPERSEDERS: weakref.WeakKeyDictionary[Any, SupersedeUpstreamRuns] = weakref.WeakKeyDictionary()


def _env_capture_content() -> bool:
    return env_flag(ENV_CAPTURE_CONTENT, True)


class AssistantsInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Options of ``instrument()`` (all optional):

    * ``tracer_provider``: default the global one.
    * ``capture_content``: message texts on spans; default ``RECONIFY_CAPTURE_CONTENT``
      (true). Off keeps ids, times and usage.
    * ``enrich_assistant``: fetch an unknown assistant once (``assistants.retrieve``) to
      name the span; default False (only assistants the app created or retrieved).
    * ``answer_grace``: seconds a finished polled run waits for the app to list its
      answer before its span is emitted without it; default 10.
    * ``limits``: bookkeeping caps (``Limits``).
    """

    _tracker: RunTracker | None = None
    _installed: list[tuple[type, str, Any, Any]]
    _switch: Switch | None = None
    _superseder: SupersedeUpstreamRuns | None = None
    _stop: threading.Event | None = None
    _atexit_registered = False

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai >= 1.40",)

    @property
    def tracker(self) -> RunTracker | None:
        """The run bookkeeping while instrumented (sizes, flush); None otherwise."""
        return self._tracker

    def flush(self) -> None:
        """Emit now every finished run still waiting for its answer to be listed."""
        if self._tracker is not None:
            self._tracker.flush_due(everything=True)

    def _instrument(self, **kwargs: Any) -> None:
        provider = kwargs.get("tracer_provider")
        capture = kwargs.get("capture_content")
        limits: Limits = kwargs.get("limits") or Limits()
        if kwargs.get("answer_grace") is not None:
            limits = Limits(**{**limits.__dict__, "answer_grace": float(kwargs["answer_grace"])})
        tracer = trace.get_tracer(_SCOPE, __version__, provider)
        emitter = SpanEmitter(tracer, _env_capture_content() if capture is None else bool(capture))
        self._tracker = tracker = RunTracker(emitter, limits)
        self._switch = switch = Switch()
        self._installed = []
        hooks = Hooks(tracker, enrich_assistant=bool(kwargs.get("enrich_assistant", False)))
        for module, name, hook in hooks.targets():
            try:
                owner = getattr(importlib.import_module(module), name.split(".")[0])
                method = name.split(".")[1]
                original = owner.__dict__[method]
            except (ImportError, AttributeError, KeyError):
                logger.debug("reconify_otel: %s.%s not in this openai version", module, name)
                continue
            # FunctionWrapper on the class's own entry, not wrap_function_wrapper's getattr:
            # over another instrumentor's wrapper that getattr yields a bound proxy, and
            # restoring it would leave a wrapper behind.
            wrapper = FunctionWrapper(
                original, make_wrapper(hook, inspect.unwrap(original), switch)
            )
            setattr(owner, method, wrapper)
            self._installed.append((owner, method, original, wrapper))
        self._superseder = _supersede(provider or trace.get_tracer_provider())
        if self._superseder is None and provider is None:
            # The global provider may be set after ``instrument()``: mark upstream spans
            # from the first hooked call on, once there is a provider to add to.
            switch.before_call = self._supersede_late
        self._start_flusher(tracker, limits.answer_grace)

    def _supersede_late(self) -> None:
        self._superseder = _supersede(trace.get_tracer_provider())
        if self._superseder is not None and self._switch is not None:
            self._switch.before_call = None

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._superseder is not None:
            self._superseder.active = False
        if self._switch is not None:
            self._switch.on = False  # a wrapper someone wrapped over stays, inert
        for owner, method, original, wrapper in reversed(self._installed):
            current = owner.__dict__.get(method)
            # Ours on top, or the bound form of ours that another instrumentor's unwrap put
            # back: restore the exact original. Someone else's wrapper on top stays.
            if current is wrapper or getattr(current, "_self_parent", None) is wrapper:
                setattr(owner, method, original)
        self._installed = []
        tracker, self._tracker = self._tracker, None
        if tracker is not None:
            tracker.flush_due(everything=True)

    def _start_flusher(self, tracker: RunTracker, grace: float) -> None:
        self._stop = stop = threading.Event()
        interval = min(1.0, max(0.02, grace / 4))

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    tracker.flush_due()
                except Exception:
                    logger.debug("reconify_otel: flush failed", exc_info=True)

        threading.Thread(target=loop, name="reconify-otel-runs", daemon=True).start()
        if not AssistantsInstrumentor._atexit_registered:
            AssistantsInstrumentor._atexit_registered = True
            atexit.register(_flush_at_exit)


def _flush_at_exit() -> None:
    try:
        AssistantsInstrumentor().flush()
    except Exception:
        logger.debug("reconify_otel: flush at exit failed", exc_info=True)


def _supersede(provider: Any) -> SupersedeUpstreamRuns | None:
    """Add (once per provider) the processor that marks upstream run spans."""
    if not hasattr(provider, "add_span_processor"):
        return None
    try:
        processor = _SUPERSEDERS.get(provider)
        if processor is None:
            processor = _SUPERSEDERS[provider] = SupersedeUpstreamRuns()
            provider.add_span_processor(processor)
        processor.active = True
        return processor
    except Exception:
        logger.debug("reconify_otel: cannot mark upstream spans", exc_info=True)
        return None
