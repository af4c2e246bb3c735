"""Older traceloop releases: messages flattened into ``gen_ai.prompt.N.*`` /
``gen_ai.completion.N.*`` (``llm.prompts`` / ``llm.completions`` before that).

Read back into the GenAI ``parts`` shape so one builder serves every generation.
openai <= 0.54 and anthropic <= 0.53 write this form. Content that was a list of blocks
is recorded as their JSON text, verbatim: it is kept as provider blocks (``PROVIDER``).
"""

from __future__ import annotations

from typing import Any

from reconify_otel.core.conventions import genai as G
from reconify_otel.core.conventions import traceloop as T
from reconify_otel.core.llm.parts import PROVIDER
from reconify_otel.core.llm.values import Attrs, Json, indexed, parse_json

# (prompts, completions) prefixes, newest first.
GENERATIONS = (
    (G.INDEXED_PROMPTS, G.INDEXED_COMPLETIONS),
    (T.INDEXED_PROMPTS, T.INDEXED_COMPLETIONS),
)


def _content_parts(content: Any) -> list[Json]:
    if not isinstance(content, str):
        return []
    if content.startswith("["):
        blocks = parse_json(content)
        if (
            isinstance(blocks, list)
            and blocks
            and all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks)
        ):
            return [{"type": PROVIDER, "value": block} for block in blocks]
    return [{"type": "text", "content": content}]


def _call_parts(fields: Json) -> list[Json]:
    calls = [
        {
            "type": "tool_call",
            "id": c.get("id"),
            "name": c.get("name"),
            "arguments": c.get("arguments"),
        }
        for c in indexed(fields, "tool_calls").values()
    ]
    if "function_call.name" in fields:  # the pre-tools form of one call
        name, arguments = fields["function_call.name"], fields.get("function_call.arguments")
        calls.append({"type": "tool_call", "id": None, "name": name, "arguments": arguments})
    return calls


def _message(fields: Json) -> Json:
    role = fields.get("role") if isinstance(fields.get("role"), str) else None
    if "user" in fields and "content" not in fields:  # completions: ``prompt.0.user``
        return {"role": "user", "parts": _content_parts(fields["user"])}
    content = _content_parts(fields.get("content"))
    if role == "tool" or "tool_call_id" in fields:
        text = fields.get("content")
        response = {
            "type": "tool_call_response",
            "id": fields.get("tool_call_id"),
            "response": text,
        }
        return {"role": role or "tool", "parts": [response]}
    # Anthropic's verbatim blocks already hold the tool_use blocks the calls repeat.
    verbatim = any(p["type"] == PROVIDER and p["value"].get("type") == "tool_use" for p in content)
    parts = content if verbatim else content + _call_parts(fields)
    message: Json = {"role": role or "assistant", "parts": parts}
    if isinstance(fields.get("finish_reason"), str):
        message["finish_reason"] = fields["finish_reason"]
    return message


def messages(attrs: Attrs) -> tuple[list[Json] | None, list[Json] | None]:
    """``(inputs, outputs)`` in the parts shape; ``None`` where the span holds none.
    Releases that listed user messages among completions are read the same way."""
    for prompt, completion in GENERATIONS:
        inputs = [_message(f) for f in indexed(attrs, prompt).values()]
        outputs = [_message(f) for f in indexed(attrs, completion).values()]
        if inputs or outputs:
            outputs = [m for m in outputs if m["role"] != "user"]
            return (inputs or None), (outputs or None)
    return None, None


def tool_definitions(attrs: Attrs) -> list[Json] | None:
    """``llm.request.functions.N.*`` in the flat form the GenAI conventions use."""
    tools: list[Json] = []
    for fields in indexed(attrs, T.INDEXED_FUNCTIONS).values():
        tool: Json = {"name": fields.get("name")}
        if fields.get("description") is not None:
            tool["description"] = fields["description"]
        for key in ("parameters", "input_schema"):
            if isinstance(fields.get(key), str):
                parsed = parse_json(fields[key])
                tool[key] = parsed if parsed is not None else fields[key]
        tools.append(tool)
    return tools or None
