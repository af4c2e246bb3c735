"""The handler API for plain LLM calls: ``reconify_openai_handler(client)`` logs that
client's ``chat.completions``, ``completions`` and ``responses`` calls, and ``log_chat``
takes any call, exactly as the exporter sends it.

The real ``openai`` / ``anthropic`` SDKs replay recorded traffic (``LlmReplay``) and the
handler sends to a real loopback ``ReconifySink``; the expected values come from the
recordings (``handler_llm_helpers``).
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from openai.resources.chat.completions import Completions as ChatCompletions
from openai.resources.completions import Completions
from openai.resources.responses import Responses

import reconify_otel
from reconify_otel.offline.replay import LlmReplay
from reconify_otel.offline.sink import Answer, ReconifySink

from .handler_llm_helpers import (
    OPENAI_CASSETTES,
    by_response_id,
    calls_of,
    create_method,
    expected_request,
    expected_response,
    handler_for,
    kind,
    make_async_call,
    make_call,
    numbered,
    recorded_chat,
    synthetic_calls,
)
from .helpers import API_KEY, APP_KEY

OPENAI_KEY = "sk-handler-test-provider-key"


@pytest.fixture(autouse=True)
def no_process_identity() -> Any:
    yield
    reconify_otel.set_user(None)
    reconify_otel.set_session(None)
    reconify_otel.set_session_timeout(None)


@pytest.mark.parametrize("cassette", OPENAI_CASSETTES)
def test_every_recorded_call_of_the_client_is_sent_once_as_recorded(
    cassette: str, sink: ReconifySink
) -> None:
    calls = calls_of(cassette)
    with LlmReplay(calls) as replay:
        client = OpenAI(base_url=replay.base_url, api_key=OPENAI_KEY)
        handler = handler_for(client, sink.url)
        results = [make_call(client, call) for call in calls]
        assert handler.close(timeout=5)
    assert len(results) == len(calls)
    payloads = by_response_id(sink.payloads)
    assert len(payloads) == len(calls)  # exactly one payload per call
    for call in calls:
        want = expected_response(call)
        payload = payloads[want["id"]]
        assert payload["reconify"] == {
            **kind(call),
            "version": "3.1.0",
            "appKey": APP_KEY,
            "apiKey": API_KEY,
        }
        assert payload["request"] == expected_request(call)
        assert payload["response"] == want
        assert payload["timestamps"]["request"] <= payload["timestamps"]["response"]
        assert (payload["session"], payload["user"]) == (None, {})
    assert {k: v for k, v in handler.stats().items() if v} == {"accepted": len(calls)}


def test_async_client_calls_and_streams_are_sent_once_each(sink: ReconifySink) -> None:
    calls = [
        *calls_of("openai__test_chat__test_chat_streaming"),
        calls_of("openai__test_completions__test_completion")[0],
        calls_of("openai__test_responses__test_responses")[0],
    ]

    async def app(client: AsyncOpenAI) -> list[Any]:
        return [await make_async_call(client, call) for call in calls]

    with LlmReplay(calls) as replay:
        client = AsyncOpenAI(base_url=replay.base_url, api_key=OPENAI_KEY)
        handler = handler_for(client, sink.url)
        results = asyncio.run(app(client))
        assert handler.close(timeout=5)
    assert results[1].id == "cmpl-8wq42D1Socatcl1rCmgYZOFX7dFZw"
    payloads = by_response_id(sink.payloads)
    assert sorted(payloads) == sorted(expected_response(call)["id"] for call in calls)
    for call in calls:
        payload = payloads[expected_response(call)["id"]]
        assert payload["request"] == expected_request(call)
        assert payload["response"] == expected_response(call)


def test_a_call_that_raised_sends_nothing(sink: ReconifySink) -> None:
    calls = calls_of("openai__test_chat__test_chat")[:1]
    with LlmReplay(calls) as replay:
        client = OpenAI(base_url=replay.base_url, api_key=OPENAI_KEY, max_retries=0)
        handler = handler_for(client, sink.url)
        replay.fail_next(500)
        with pytest.raises(openai.InternalServerError):
            make_call(client, calls[0])
        answered = make_call(client, calls[0])  # the same call again, answered this time
        assert handler.close(timeout=5)
    (payload,) = sink.payloads
    assert payload["response"]["id"] == answered.id
    assert {k: v for k, v in handler.stats().items() if v} == {"accepted": 1}


def test_the_caller_is_never_blocked_by_a_hanging_endpoint(sink: ReconifySink) -> None:
    calls = calls_of("openai__test_chat__test_chat")
    sink.set_default(Answer.hang(60))
    with LlmReplay(calls) as replay:
        client = OpenAI(base_url=replay.base_url, api_key=OPENAI_KEY)
        handler = handler_for(client, sink.url, timeout=1, export_timeout=1)
        first = make_call(client, calls[0])
        assert sink.wait_for_attempts(1, timeout=5)  # the sink now holds that POST unanswered
        rest = [make_call(client, call) for call in calls[1:]]
        # Every call returned its answer while Reconify had accepted nothing.
        assert [r.id for r in [first, *rest]] == [c.answer()["id"] for c in calls]  # type: ignore[index]
        assert sink.accepted == 0
        handler.close(timeout=5)
    stats = handler.stats()
    assert stats["accepted"] == 0
    assert stats["spooled"] == len(calls)  # nothing lost: kept to resend


def test_close_gives_the_client_its_own_methods_back(sink: ReconifySink) -> None:
    calls = calls_of("openai__test_chat__test_chat")[:2]
    with LlmReplay(calls) as replay:
        client = OpenAI(base_url=replay.base_url, api_key=OPENAI_KEY)
        other = OpenAI(base_url=replay.base_url, api_key=OPENAI_KEY)
        handler = handler_for(client, sink.url)
        resources = (client.chat.completions, client.completions, client.responses)
        assert all("create" in vars(resource) for resource in resources)
        assert "parse" in vars(client.chat.completions) and "parse" in vars(client.responses)
        assert "create" not in vars(other.chat.completions)  # the class is untouched
        assert other.chat.completions.create.__func__ is ChatCompletions.create  # type: ignore[attr-defined]
        make_call(client, calls[0])
        assert handler.close(timeout=5)
        assert all(not {"create", "parse"} & set(vars(r)) for r in resources)
        assert client.chat.completions.create.__func__ is ChatCompletions.create  # type: ignore[attr-defined]
        assert client.completions.create.__func__ is Completions.create  # type: ignore[attr-defined]
        assert client.responses.create.__func__ is Responses.create  # type: ignore[attr-defined]
        make_call(client, calls[1])  # after close: not logged
    assert [p["response"]["id"] for p in sink.payloads] == [calls[0].answer()["id"]]  # type: ignore[index]


def test_user_and_session_of_the_caller_travel_with_each_call(sink: ReconifySink) -> None:
    calls = calls_of("openai__test_chat__test_chat")[:3]
    with LlmReplay(calls) as replay:
        client = OpenAI(base_url=replay.base_url, api_key=OPENAI_KEY)
        handler = handler_for(client, sink.url)
        # Only an id: a user() block now mixes in the default's other fields (reported).
        handler.set_user({"userId": "123"})
        handler.set_session("MySessionId")
        handler.set_session_timeout(20)
        make_call(client, calls[0])
        with reconify_otel.session("per-request"), reconify_otel.user({"userId": "u-7"}):
            make_call(client, calls[1])
        handler.set_user(None)
        handler.set_session(None)
        handler.set_session_timeout(None)
        make_call(client, calls[2])
        assert handler.close(timeout=5)
    payloads = by_response_id(sink.payloads)
    seen = [payloads[call.answer()["id"]] for call in calls]  # type: ignore[index]
    assert [(p["session"], p["sessionTimeout"], p["user"]) for p in seen] == [
        ("MySessionId", 20, {"userId": "123"}),
        ("per-request", 20, {"userId": "u-7"}),
        (None, None, {}),
    ]


def test_a_responses_call_in_a_conversation_has_it_as_session(sink: ReconifySink) -> None:
    (call,) = synthetic_calls("synthetic__responses_conversation_items")
    with LlmReplay([call]) as replay:
        client = OpenAI(base_url=replay.base_url, api_key=OPENAI_KEY)
        handler = handler_for(client, sink.url)
        make_call(client, call)
        assert handler.close(timeout=5)
    (payload,) = sink.payloads
    assert payload["session"] == "conv_synthetic_1"
    assert payload["request"]["conversation"] == "conv_synthetic_1"


def test_sdk_options_and_provider_keys_are_not_sent(sink: ReconifySink) -> None:
    (call,) = calls_of("openai__test_chat__test_chat")[:1]
    secret = "sk-proj-secret-in-a-header"
    with LlmReplay([call]) as replay:
        client = OpenAI(base_url=replay.base_url, api_key=OPENAI_KEY)
        handler = handler_for(client, sink.url)
        client.chat.completions.create(
            **call.request, extra_headers={"Authorization": f"Bearer {secret}"}, timeout=30
        )
        assert handler.close(timeout=5)
    (payload,) = sink.payloads
    assert payload["request"] == call.request
    assert secret not in json.dumps(payload) and OPENAI_KEY not in json.dumps(payload)


def test_interactions_setting_limits_what_the_client_sends(sink: ReconifySink) -> None:
    calls = (
        calls_of("openai__test_chat__test_chat")[:1]
        + calls_of("openai__test_responses__test_responses")[:1]
    )
    with LlmReplay(calls) as replay:
        client = OpenAI(base_url=replay.base_url, api_key=OPENAI_KEY)
        handler = handler_for(client, sink.url, interactions=frozenset({"responses"}))
        for call in calls:
            make_call(client, call)
        assert handler.close(timeout=5)
    assert [p["response"]["id"] for p in sink.payloads] == [calls[1].answer()["id"]]  # type: ignore[index]


def test_a_client_without_llm_resources_is_refused_with_a_warning(
    sink: ReconifySink, caplog: pytest.LogCaptureFixture
) -> None:
    handler = handler_for(object(), sink.url)
    assert "has no chat.completions, completions or responses" in caplog.text
    assert handler.close(timeout=2)


def test_parse_calls_are_logged_like_create(sink: ReconifySink) -> None:
    calls = (
        calls_of("openai__test_chat__test_chat")[:1]
        + calls_of("openai__test_responses__test_responses")[:1]
    )
    with LlmReplay(calls) as replay:
        client = OpenAI(base_url=replay.base_url, api_key=OPENAI_KEY)
        handler = handler_for(client, sink.url)
        client.chat.completions.parse(**calls[0].request)
        client.responses.parse(**calls[1].request)
        assert handler.close(timeout=5)
    payloads = by_response_id(sink.payloads)
    assert len(payloads) == 2
    for call in calls:
        assert payloads[expected_response(call)["id"]]["response"] == expected_response(call)


def test_raw_responses_are_logged_and_inert_after_close(sink: ReconifySink) -> None:
    calls = calls_of("openai__test_chat__test_chat")[:2]
    with LlmReplay(calls) as replay:
        client = OpenAI(base_url=replay.base_url, api_key=OPENAI_KEY)
        handler = handler_for(client, sink.url)
        raw = client.chat.completions.with_raw_response.create(**calls[0].request)
        assert raw.parse().id == calls[0].answer()["id"]  # type: ignore[index]
        assert handler.close(timeout=5)
        # The SDK keeps the method it bound first: after close() it only passes through.
        client.chat.completions.with_raw_response.create(**calls[1].request).parse()
    assert [p["response"]["id"] for p in sink.payloads] == [calls[0].answer()["id"]]  # type: ignore[index]
    assert {k: v for k, v in handler.stats().items() if v} == {"accepted": 1}


def test_the_wrapped_method_keeps_the_sdk_signature(sink: ReconifySink) -> None:
    client = OpenAI(base_url="http://127.0.0.1:9/v1", api_key=OPENAI_KEY)
    (call,) = calls_of("openai__test_chat__test_chat")[:1]
    handler = handler_for(client, sink.url)
    wrapped = create_method(client, call)
    assert wrapped.__wrapped__.__func__ is ChatCompletions.create
    assert wrapped.__doc__ == ChatCompletions.create.__doc__
    assert handler.close(timeout=2)


# --- many threads and tasks at once, each with its own user --------------------------

THREADS, CALLS_EACH = 4, 8


def users_by_answer(payloads: list[dict[str, Any]]) -> dict[str, str]:
    return {p["response"]["id"]: p["user"]["userId"] for p in payloads}


def test_threads_each_get_their_own_calls_and_users(sink: ReconifySink) -> None:
    chat = recorded_chat()
    called: dict[str, str] = {}
    lock = threading.Lock()
    with LlmReplay(numbered(chat, THREADS * CALLS_EACH)) as replay:
        client = OpenAI(base_url=replay.base_url, api_key=OPENAI_KEY, max_retries=0)
        handler = handler_for(client, sink.url)

        def work(user: str) -> None:
            with reconify_otel.user({"userId": user}):
                for _ in range(CALLS_EACH):
                    answer = client.chat.completions.create(**chat.request)
                    with lock:
                        called[answer.id] = user

        threads = [threading.Thread(target=work, args=(f"u{n}",)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert handler.close(timeout=10)
    assert len(called) == THREADS * CALLS_EACH
    assert len(sink.payloads) == THREADS * CALLS_EACH  # exactly one payload per call
    assert users_by_answer(sink.payloads) == called
    stats = {k: v for k, v in handler.stats().items() if v}
    assert stats == {"accepted": THREADS * CALLS_EACH}


def test_asyncio_tasks_each_get_their_own_calls_and_users(sink: ReconifySink) -> None:
    count = THREADS * CALLS_EACH
    chat = recorded_chat()

    async def main(client: AsyncOpenAI) -> dict[str, str]:
        async def one(user: str) -> tuple[str, str]:
            with reconify_otel.user({"userId": user}):
                answer = await client.chat.completions.create(**chat.request)
                return answer.id, user

        return dict(await asyncio.gather(*(one(f"t{n}") for n in range(count))))

    with LlmReplay(numbered(chat, count)) as replay:
        client = AsyncOpenAI(base_url=replay.base_url, api_key=OPENAI_KEY, max_retries=0)
        handler = handler_for(client, sink.url)
        called = asyncio.run(main(client))
        assert handler.close(timeout=10)
    assert len(called) == count
    assert users_by_answer(sink.payloads) == called
