"""What Reconify's own modules would send for a recorded LLM call: the reference the LLM
tests compare the mapping with, computed from the recordings alone (streams accumulated
the way the SDKs do), never from the mapping.

``exchanges(cassette)`` reads a recording of ``reconify_otel.offline.LLM_RECORDINGS`` (or a
``synthetic__*`` exchange of ``tests/fixtures/llm_spans``); ``expected_request`` and
``expected_response`` give the payload's ``request`` and ``response`` for one of them.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from reconify_otel.offline import LLM_RECORDINGS

SPANS = Path(__file__).parent / "fixtures" / "llm_spans"


# --- the recordings -----------------------------------------------------------------------


def _decode(raw: Any) -> str:
    if isinstance(raw, bytes):
        return (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode()
    return str(raw)


@cache
def exchanges(cassette: str) -> list[dict[str, Any]]:
    """``[{path, request, answer}]`` per POST, in recorded order; ``answer`` is the object
    the non-streamed call returns (a stream accumulated as the SDKs do)."""
    if cassette.startswith("synthetic__"):
        recorded = json.loads((SPANS / "synthetic_exchanges.json").read_text())[cassette]
    else:
        document = yaml.safe_load((LLM_RECORDINGS / f"{cassette}.yaml").read_text())
        recorded = []
        for item in document["interactions"]:
            headers = {k.lower(): v[0] for k, v in item["response"]["headers"].items()}
            recorded.append(
                {
                    "path": "/" + item["request"]["uri"].split("/", 3)[3],
                    "request": json.loads(item["request"]["body"]),
                    "content_type": headers.get("content-type", ""),
                    "body": _decode(item["response"]["body"]["string"]),
                }
            )
    result = []
    for entry in recorded:
        body = entry["body"]
        if "event-stream" in entry["content_type"]:
            answer = _accumulate(entry["path"], events(body))
        else:
            answer = json.loads(body)
        result.append(
            {"path": entry["path"], "request": entry["request"], "answer": answer, "raw": body}
        )
    return result


def events(body: str) -> list[dict[str, Any]]:
    data = [line[5:].strip() for line in body.splitlines() if line.startswith("data:")]
    return [json.loads(d) for d in data if d and d != "[DONE]"]


def _accumulate(path: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    if path.endswith("/messages"):
        message: dict[str, Any] = {}
        partial: dict[int, str] = {}
        for event in events:
            if event["type"] == "message_start":
                message = dict(event["message"], content=[])
            elif event["type"] == "content_block_start":
                message["content"].append(dict(event["content_block"]))
            elif event["type"] == "content_block_delta":
                delta, block = event["delta"], message["content"][event["index"]]
                if delta["type"] == "text_delta":
                    block["text"] += delta["text"]
                else:
                    partial[event["index"]] = (
                        partial.get(event["index"], "") + delta["partial_json"]
                    )
            elif event["type"] == "message_delta":
                message.update(event["delta"])
                message["usage"] = dict(message["usage"], **event["usage"])
        for index, text in partial.items():
            message["content"][index]["input"] = json.loads(text)
        return message
    if path.endswith("/responses"):
        return next(e["response"] for e in events if e["type"] == "response.completed")
    first = events[0]
    chat = path.endswith("/chat/completions")
    text, finish, usage, calls = "", None, None, {}  # type: ignore[var-annotated]
    for event in events:
        usage = event.get("usage") or usage
        for choice in event["choices"]:
            finish = choice.get("finish_reason") or finish
            delta = choice["delta"] if chat else choice
            text += (delta.get("content") if chat else delta.get("text")) or ""
            for call in (delta.get("tool_calls") or []) if chat else []:
                into = calls.setdefault(call["index"], {"function": {"arguments": ""}})
                into["id"] = call.get("id") or into.get("id")
                into["function"]["name"] = call["function"].get("name") or into["function"].get(
                    "name"
                )
                into["function"]["arguments"] += call["function"].get("arguments") or ""
    content = text if text or not calls else None
    if not chat:
        choices = [{"index": 0, "text": text, "finish_reason": finish}]
    else:
        message = {"role": "assistant", "content": content}
        if calls:
            message["tool_calls"] = [
                {"id": c["id"], "type": "function", "function": c["function"]}
                for c in calls.values()
            ]
        choices = [{"index": 0, "message": message, "finish_reason": finish}]
    return {k: first[k] for k in ("id", "created", "model")} | {"choices": choices, "usage": usage}


# --- what Reconify's modules would send for a recorded call (the reference, by hand) ----


def expected_request(path: str, body: dict[str, Any]) -> dict[str, Any]:
    if not path.endswith("/responses"):
        return body
    messages: list[dict[str, Any]] = []
    if body.get("instructions"):
        messages.append({"role": "system", "content": body["instructions"]})
    items = body["input"]
    for item in [{"role": "user", "content": items}] if isinstance(items, str) else items:
        kind = item.get("type", "message")
        if kind == "message":
            messages.append({"role": item["role"], "content": _chat_content(item["content"])})
        elif kind == "function_call":
            call = {"id": item["call_id"], "type": "function"}
            call["function"] = {"name": item["name"], "arguments": item["arguments"]}
            messages.append({"role": "assistant", "tool_calls": [call]})
        elif kind == "function_call_output":
            answer = {"role": "tool", "tool_call_id": item["call_id"], "content": item["output"]}
            messages.append(answer)
    rest = {k: v for k, v in body.items() if k not in ("model", "input", "instructions")}
    return {"model": body["model"], "messages": messages, **rest}


def _chat_content(content: Any) -> Any:
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if part["type"] == "input_text":
            parts.append({"type": "text", "text": part["text"]})
        else:
            image = {"url": part["image_url"], "detail": part["detail"]}
            parts.append({"type": "image_url", "image_url": image})
    return parts


def expected_response(path: str, answer: dict[str, Any]) -> dict[str, Any]:
    if path.endswith("/messages"):
        content = []
        for block in answer["content"]:
            if block["type"] == "text":
                content.append({"type": "text", "text": block["text"]})
            else:
                content.append({k: block[k] for k in ("type", "id", "name", "input")})
        usage = {k: answer["usage"][k] for k in ("input_tokens", "output_tokens")}
        return {
            "id": answer["id"],
            "type": "message",
            "role": "assistant",
            "model": answer["model"],
            "content": content,
            "stop_reason": answer["stop_reason"],
            "usage": usage,
        }
    if path.endswith("/responses"):
        texts, calls = [], []
        for item in answer["output"]:
            if item["type"] == "message":
                texts += [c["text"] for c in item["content"] if c["type"] == "output_text"]
            elif item["type"] == "function_call":
                function = {"name": item["name"], "arguments": item["arguments"]}
                calls.append({"id": item["call_id"], "type": "function", "function": function})
        message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
        if calls:
            message["tool_calls"] = calls
        usage = answer["usage"]
        return {
            "id": answer["id"],
            "object": "chat.completion",
            "created": answer["created_at"],
            "model": answer["model"],
            "choices": [
                {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}
            ],
            "usage": {
                "prompt_tokens": usage["input_tokens"],
                "completion_tokens": usage["output_tokens"],
                "total_tokens": usage["total_tokens"],
            },
        }
    chat = path.endswith("/chat/completions")
    choices = []
    for choice in answer["choices"]:
        if chat:
            message = {k: choice["message"].get(k) for k in ("role", "content")}
            if choice["message"].get("tool_calls"):
                message["tool_calls"] = choice["message"]["tool_calls"]
            choices.append(
                {
                    "index": choice["index"],
                    "message": message,
                    "finish_reason": choice["finish_reason"],
                }
            )
        else:
            choices.append({k: choice[k] for k in ("index", "text", "finish_reason")})
    usage = {k: answer["usage"][k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
    return {
        "id": answer["id"],
        "object": "chat.completion" if chat else "text_completion",
        "created": answer["created"],
        "model": answer["model"],
        "choices": choices,
        "usage": usage,
    }
