"""The pure ``run_span_attributes``: dicts or openai objects in, the span contract out."""

from __future__ import annotations

import json
from typing import Any

from openai.types.beta.threads import Message, Run

from reconify_otel.core import attributes as A
from reconify_otel.core.interaction import Interaction
from reconify_otel.core.mapping import map_span
from reconify_otel.core.record import SpanRecord
from reconify_otel.core.run_attributes import run_span_attributes, span_name


def _message(mid: str, role: str, text: str, run_id: str | None, created: int) -> dict[str, Any]:
    return {
        "id": mid,
        "object": "thread.message",
        "created_at": created,
        "assistant_id": None,
        "thread_id": "thread_1",
        "run_id": run_id,
        "role": role,
        "status": "completed",
        "content": [{"type": "text", "text": {"value": text, "annotations": []}}],
        "attachments": [],
        "metadata": {},
    }


RUN = {
    "id": "run_1",
    "object": "thread.run",
    "created_at": 10,
    "thread_id": "thread_1",
    "assistant_id": "asst_1",
    "status": "completed",
    "model": "gpt-4o-mini",
    "instructions": "",
    "tools": [],
    "parallel_tool_calls": True,
    "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
}
USER = _message("msg_u", "user", "hi", None, 9)
ANSWERS = [
    _message("msg_b", "assistant", "second", "run_1", 12),
    _message("msg_a", "assistant", "first", "run_1", 11),
]


def test_dicts_give_the_contract() -> None:
    attrs = run_span_attributes(RUN, USER, ANSWERS, assistant={"id": "asst_1", "name": "Bot"})
    assert attrs[A.OPERATION_NAME] == "invoke_agent" and attrs[A.PROVIDER_NAME] == "openai"
    assert attrs[A.CONVERSATION_ID] == "thread_1" and attrs[A.AGENT_ID] == "asst_1"
    assert attrs[A.AGENT_NAME] == "Bot" and attrs[A.RUN_ID] == "run_1"
    assert attrs[A.REQUEST_MODEL] == attrs[A.RESPONSE_MODEL] == "gpt-4o-mini"
    assert (attrs[A.USAGE_INPUT_TOKENS], attrs[A.USAGE_OUTPUT_TOKENS]) == (5, 7)
    assert attrs[A.USAGE_TOTAL_TOKENS] == 12 and attrs[A.RUN_STATUS] == "completed"
    assert A.ERROR_TYPE not in attrs
    assert json.loads(str(attrs[A.REQUEST_MESSAGE])) == USER
    assert [m["id"] for m in json.loads(str(attrs[A.RESPONSE_MESSAGES]))] == ["msg_a", "msg_b"]
    assert json.loads(str(attrs[A.INPUT_MESSAGES])) == [
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]}
    ]
    output = json.loads(str(attrs[A.OUTPUT_MESSAGES]))
    assert output == [
        {
            "role": "assistant",
            "finish_reason": "stop",
            "parts": [{"type": "text", "content": "first"}, {"type": "text", "content": "second"}],
        }
    ]
    assert span_name(RUN, {"name": "Bot"}) == "invoke_agent Bot"
    assert span_name(RUN) == "invoke_agent asst_1"


def test_openai_objects_give_the_same_attributes() -> None:
    objects = run_span_attributes(
        Run.model_validate(RUN),
        Message.model_validate(USER),
        [Message.model_validate(m) for m in ANSWERS],
    )
    plain = run_span_attributes(
        Run.model_validate(RUN).model_dump(mode="json"),
        Message.model_validate(USER).model_dump(mode="json"),
        [Message.model_validate(m).model_dump(mode="json") for m in ANSWERS],
    )
    assert objects == plain


def test_other_messages_never_leak_into_the_span() -> None:
    page = [*ANSWERS, USER, _message("msg_old", "assistant", "old", "run_0", 1)]
    attrs = run_span_attributes(RUN, USER, page)
    assert [m["id"] for m in json.loads(str(attrs[A.RESPONSE_MESSAGES]))] == ["msg_a", "msg_b"]


def test_content_off_keeps_ids_times_and_usage() -> None:
    attrs = run_span_attributes(RUN, USER, ANSWERS, capture_content=False)
    assert A.INPUT_MESSAGES not in attrs and A.OUTPUT_MESSAGES not in attrs
    request = json.loads(str(attrs[A.REQUEST_MESSAGE]))
    assert request == {**USER, "content": []}
    answers = json.loads(str(attrs[A.RESPONSE_MESSAGES]))
    assert [(m["id"], m["created_at"], m["content"]) for m in answers] == [
        ("msg_a", 11, []),
        ("msg_b", 12, []),
    ]
    assert attrs[A.USAGE_TOTAL_TOKENS] == 12


def test_failed_run_is_an_error_and_missing_parts_stay_out() -> None:
    attrs = run_span_attributes({**RUN, "status": "failed", "usage": None}, None, [])
    assert attrs[A.ERROR_TYPE] == "failed"
    for key in (A.USAGE_INPUT_TOKENS, A.REQUEST_MESSAGE, A.RESPONSE_MESSAGES, A.OUTPUT_MESSAGES):
        assert key not in attrs


def test_mapping_rebuilds_the_payload_from_these_attributes() -> None:
    attrs = run_span_attributes(RUN, USER, ANSWERS)
    result = map_span(SpanRecord("invoke_agent Bot", attrs, 1_000_000_000, 2_000_000_000))
    assert isinstance(result, Interaction)
    payload = result.to_json()
    assert payload["request"]["id"] == "msg_u" and payload["request"]["model"] == "gpt-4o-mini"
    assert payload["request"]["assistant_id"] == "asst_1"
    assert payload["response"]["id"] == "msg_b" and payload["response"]["run_id"] == "run_1"
    assert [b["text"]["value"] for b in payload["response"]["content"]] == ["first", "second"]
    assert payload["response"]["usage"] == RUN["usage"]
    assert payload["timestamps"] == {"request": 1000, "response": 2000}
