"""Generic ``wrapt`` wrappers that run a ``Hook`` around an SDK method without ever hurting it.

The application's call always runs with its own arguments (only SDK defaults may be
made explicit by ``Hook.prepare``), its result and exceptions pass through untouched,
and any failure of ours is logged once per minute and otherwise ignored.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from reconify_otel.instrumentation.guard import guarded
from reconify_otel.instrumentation.hooks import Args, Hook, Kwargs
from reconify_otel.runtime.logs import RateLimitedLog

logger = logging.getLogger("reconify_otel")
_log = RateLimitedLog(logger)
T = TypeVar("T")

Wrapper = Callable[[Callable[..., Any], Any, Args, Kwargs], Any]


class Switch:
    """Shared state of every wrapper: ``on`` (a wrapper left in place because someone
    wrapped over it goes inert) and ``before_call``, a one-off setup step the
    instrumentor may still owe (see ``AssistantsInstrumentor``)."""

    def __init__(self) -> None:
        self.on = True
        self.before_call: Callable[[], None] | None = None


def make_wrapper(hook: Hook, original: Any, switch: Switch) -> Wrapper:
    """A sync or async wrapper, matching the original; the two differ only by ``await``."""

    def enter(instance: Any, args: Args, kwargs: Kwargs) -> tuple[Kwargs, Any, Any]:
        if switch.before_call is not None:
            guarded(switch.before_call)
        call_kwargs = guarded(hook.prepare, kwargs, default=kwargs) if hook.prepare else kwargs
        token = guarded(hook.before, instance, args, call_kwargs)
        fetch_id = guarded(hook.enrich, instance, args, call_kwargs)
        fetch = guarded(_assistant_fetcher, instance, fetch_id) if fetch_id else None
        return call_kwargs, token, fetch

    if inspect.iscoroutinefunction(original):

        async def async_wrapper(wrapped: Any, instance: Any, args: Args, kwargs: Kwargs) -> Any:
            if not switch.on:
                return await wrapped(*args, **kwargs)
            call_kwargs, token, fetch = enter(instance, args, kwargs)
            if fetch is not None:
                try:
                    await fetch()
                except Exception:
                    _log.warning("enrich", "reconify_otel: assistant lookup failed")
            try:
                result = await wrapped(*args, **call_kwargs)
            except Exception as exc:
                guarded(hook.error, token, args, call_kwargs, exc)
                raise
            guarded(hook.after, token, instance, args, call_kwargs, result)
            return result

        return async_wrapper

    def sync_wrapper(wrapped: Any, instance: Any, args: Args, kwargs: Kwargs) -> Any:
        if not switch.on:
            return wrapped(*args, **kwargs)
        call_kwargs, token, fetch = enter(instance, args, kwargs)
        if fetch is not None:
            try:
                fetch()
            except Exception:
                _log.warning("enrich", "reconify_otel: assistant lookup failed")
        try:
            result = wrapped(*args, **call_kwargs)
        except Exception as exc:
            guarded(hook.error, token, args, call_kwargs, exc)
            raise
        guarded(hook.after, token, instance, args, call_kwargs, result)
        return result

    return sync_wrapper


def _assistant_fetcher(instance: Any, assistant_id: str) -> Callable[[], Any]:
    """``client.beta.assistants.retrieve`` (wrapped too, so the answer lands in the cache)."""
    retrieve: Callable[[str], Any] = instance._client.beta.assistants.retrieve
    return lambda: retrieve(assistant_id)
