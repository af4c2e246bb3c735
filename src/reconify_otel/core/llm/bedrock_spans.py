"""Bedrock calls from OpenInference's spans (``openinference-instrumentation-bedrock``), in
Reconify's ``bedrock`` format (``core.llm.bedrock``).

Its spans differ by operation and model family: for Claude's messages API ``input.value``
is the body sent and ``output.value`` the answer body, so the call is sent exactly as
``invoke_model`` went; for ``converse`` ``input.value`` is the messages sent (the system
blocks are among ``llm.input_messages``) and ``output.value`` the output message; for the
other families ``input.value`` is the prompt's text and ``llm.invocation_parameters`` the
rest of the body (Titan's: all of it). No span names the AWS request id.
"""

from __future__ import annotations

import ast
from typing import Any

from reconify_otel.core.conventions import openinference as OI
from reconify_otel.core.conventions.classification import Kind
from reconify_otel.core.llm import bedrock
from reconify_otel.core.llm.shapes import LlmCall
from reconify_otel.core.llm.values import (
    Attrs,
    Json,
    as_str,
    first_str,
    indexed,
    int_attr,
    parse_json,
    recorded_text,
)

# The prompt's key in a body OpenInference reports as the invocation parameters (Titan).
_PROMPT_KEYS = ("inputText", "prompt")
_MAX_LITERAL = 1 << 18  # a longer answer is kept as its text, never parsed
_MAX_NODES = 2_000
_ROUTES = frozenset({"bedrock", "bedrock_converse", "converse", "invoke"})


def _parsed(raw: str | None, opening: str) -> Any:
    return parse_json(raw) if raw is not None and raw.startswith(opening) else None


def from_openinference(
    attrs: Attrs,
    model: str | None,
    inputs: list[Json],
    outputs: list[Json],
    params: Json,
    bad: list[str],
) -> LlmCall:
    raw_in = recorded_text(attrs, OI.INPUT_VALUE)
    raw_out = recorded_text(attrs, OI.OUTPUT_VALUE)
    body_out = _parsed(raw_out, "{")
    answer = body_out if isinstance(body_out, dict) else None
    model = _model_id(model)
    sent = _parsed(raw_in, "{")
    # The body sent: Claude's messages API names its version in it; any other JSON object
    # is a prompt written as JSON, or a framework's input (LiteLLM's ``{messages}``).
    if raw_in is not None and isinstance(sent, dict) and "anthropic_version" in sent:
        request, response = bedrock.exact(model, raw_in, answer, None)
        return LlmCall(
            Kind.BEDROCK, request, response, as_str((answer or {}).get("id")), None, tuple(bad)
        )
    sent_messages = _parsed(raw_in, "[")
    system = [m for m in inputs if m.get("role") == "system"]
    params = dict(params)
    if isinstance(sent_messages, list):  # Converse's (and Nova's) messages, as sent
        messages = system + [m for m in sent_messages if isinstance(m, dict)]
    elif inputs:
        messages = inputs
    else:
        prompt = raw_in or next(
            (params.pop(k) for k in _PROMPT_KEYS if isinstance(params.get(k), str)), None
        )
        messages = [{"role": "user", "content": prompt}] if prompt else []
    for key in _PROMPT_KEYS if raw_in is None else ():
        params.pop(key, None)
    params.pop("model", None)
    request = bedrock.request(model, messages, None, params, _tools(attrs))
    if answer is not None and isinstance(answer.get("content"), list):
        # The output message as answered; a stream's deltas are one block each.
        output: Json | None = {**answer, "content": _joined_texts(answer["content"])}
    elif outputs:
        output = outputs[0]
    else:
        output = {"role": "assistant", "content": _answer_text(raw_out)} if raw_out else None
    counts = (
        int_attr(attrs, bad, OI.TOKEN_COUNT_PROMPT),
        int_attr(attrs, bad, OI.TOKEN_COUNT_COMPLETION),
        int_attr(attrs, bad, OI.TOKEN_COUNT_TOTAL),
        int_attr(attrs, bad, OI.TOKEN_COUNT_CACHE_READ),
        int_attr(attrs, bad, OI.TOKEN_COUNT_CACHE_WRITE),
    )
    finish = first_str(attrs, OI.FINISH_REASON)
    response = bedrock.response(None, output, finish, counts)
    return LlmCall(Kind.BEDROCK, request, response, None, None, tuple(bad))


def _joined_texts(blocks: list[Any]) -> list[Any]:
    """Adjacent text blocks joined: an unstreamed answer has one per text."""
    found: list[Any] = []
    for block in blocks:
        if _is_text(block) and found and _is_text(found[-1]):
            found[-1] = {"text": found[-1]["text"] + block["text"]}
        else:
            found.append(block)
    return found


def _is_text(block: Any) -> bool:
    return isinstance(block, dict) and set(block) == {"text"} and isinstance(block["text"], str)


def _answer_text(raw: str) -> str:
    """OpenInference writes Cohere's generations and AI21's completions as the Python
    list's ``repr``: their texts, read as literals (never evaluated), else the text."""
    if not raw.startswith("[{") or len(raw) > _MAX_LITERAL:
        return raw
    # Parsing costs about 500 bytes a node: an answer of a few texts has few.
    if raw.count("{") + raw.count("[") > _MAX_NODES:
        return raw
    try:
        items = ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return raw
    texts = [_item_text(item) for item in items] if isinstance(items, list) else []
    return "".join(texts) if texts and all(isinstance(t, str) for t in texts) else raw


def _item_text(item: Any) -> Any:
    if not isinstance(item, dict):
        return None
    data = item.get("data")
    return data.get("text") if isinstance(data, dict) else item.get("text")


def _model_id(model: str | None) -> str | None:
    """LiteLLM's routes (``bedrock/``, ``bedrock/converse/``) are no part of the model id."""
    while model and model.partition("/")[0] in _ROUTES and "/" in model:
        model = model.partition("/")[2]
    return model


def _tools(attrs: Attrs) -> list[Any] | None:
    """``llm.tools.N.tool.json_schema``: each tool's definition as sent, as JSON."""
    found = []
    for fields in indexed(attrs, OI.TOOLS).values():
        raw = fields.get(OI.TOOL_JSON_SCHEMA)
        tool = parse_json(raw) if isinstance(raw, str) else None
        if isinstance(tool, dict):
            found.append(tool)
    return found or None
