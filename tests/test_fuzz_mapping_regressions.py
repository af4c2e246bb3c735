"""The defects the mapping fuzzers (test_fuzz_mapping.py) found, each with its exact input
and the exact outcome it must have now. All were fixed in src; these keep them fixed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconify_otel.core import attributes as A
from reconify_otel.core import privacy
from reconify_otel.core.encoding import encode
from reconify_otel.core.interaction import Interaction
from reconify_otel.core.mapping import map_span
from reconify_otel.core.payload import Skip, Skipped
from reconify_otel.core.record import SpanRecord
from reconify_otel.prepare import Prepared

from .helpers import OUTPUT_OK, offline_preparer

# str.isdigit() accepts characters int() refuses ("²"), and int() refuses > 4300 digits.
INT_DEFECT_INPUTS: list[tuple[str, dict[str, Any]]] = [
    ("openai.assistant.run", {A.OUTPUT_MESSAGES: OUTPUT_OK, A.SESSION_TIMEOUT: "²"}),
    ("openai.assistant.run", {A.OUTPUT_MESSAGES: OUTPUT_OK, A.USAGE_INPUT_TOKENS: "9" * 5000}),
    ("openai.assistant.run_stream", {"gen_ai.response.².id": "msg_1"}),
    ("openai.assistant.run", {"gen_ai.completion.².content": "answer"}),
    ("openai.assistant.run", {"llm.completions." + "1" * 5000 + ".content": "answer"}),
]
# A JSON attribute may spell a lone surrogate as an ASCII escape; encode() then fails.
SURROGATE_DEFECT_INPUTS: list[tuple[str, dict[str, Any]]] = [
    ("openai.assistant.run", {A.OUTPUT_MESSAGES: OUTPUT_OK, A.REQUEST_MODEL: "\ud800"}),
    (
        "openai.assistant.run",
        {A.OUTPUT_MESSAGES: '[{"role": "assistant", "parts": [{"content": "\\ud800"}]}]'},
    ),
    (
        "invoke_agent X",
        {A.RUN_ID: "run_1", A.RESPONSE_MESSAGES: b'[{"content": [], "metadata": "\\udfff"}]'},
    ),
]
# A message attribute nested ~500 deep maps fine, then the recursive size cap overflows.
DEEP_DEFECT_INPUT = (
    "invoke_agent X",
    {
        A.RUN_ID: "run_1",
        A.RESPONSE_MESSAGES: '[{"content": [], "metadata": %s}]' % ("[" * 600 + "]" * 600),
    },
)
# The quadratic e-mail pattern took about 18 s on 80,000 characters; on these 2,000,000
# it would take hours, the linear one takes about 20 ms. No clock is read: a return of the
# defect shows as a hang that the suite's timeout ends.
REDOS_INPUT = "x" * 2_000_000


NO_ANSWER = Skipped(Skip.NO_ANSWER, "the span holds no assistant message")
# What each input gives: the unusable number left out, or (no usable index) no answer.
INT_DEFECT_OUTCOMES: list[dict[str, Any] | Skipped] = [
    {"sessionTimeout": None, "usage": None},
    {"sessionTimeout": None, "usage": None},
    NO_ANSWER,
    NO_ANSWER,
    NO_ANSWER,
]


@pytest.mark.parametrize(
    ("name", "attributes", "outcome"),
    [
        (*case, outcome)
        for case, outcome in zip(INT_DEFECT_INPUTS, INT_DEFECT_OUTCOMES, strict=True)
    ],
    ids=["timeout-superscript", "tokens-5000-digits", "response-id", "completion-index", "llm-idx"],
)
def test_regression_digit_strings_int_refuses_do_not_crash_map_span(
    name: str, attributes: dict[str, Any], outcome: dict[str, Any] | Skipped
) -> None:
    """``str.isdigit()`` is true for "²" and for 5000 nines; ``int()`` raises on both."""
    result = map_span(SpanRecord(name, attributes, 0, 1))
    if isinstance(outcome, Skipped):
        assert result == outcome
    else:
        assert isinstance(result, Interaction)
        payload = result.to_json()
        assert payload["sessionTimeout"] == outcome["sessionTimeout"]
        assert payload["response"]["usage"] == outcome["usage"]
        assert payload["response"]["content"] == [
            {"type": "text", "text": {"value": "hi", "annotations": []}}
        ]


# Where each input's surrogate lands, and what it is sent as: "?", the rest intact.
SURROGATE_LANDS = [
    (("request", "model"), "?"),
    (("response", "content", 0, "text", "value"), "?"),
    (("response", "metadata"), "?"),
]


@pytest.mark.parametrize(
    ("name", "attributes", "lands"),
    [(*case, lands) for case, lands in zip(SURROGATE_DEFECT_INPUTS, SURROGATE_LANDS, strict=True)],
    ids=["model", "json-escape", "bytes-escape"],
)
def test_regression_lone_surrogates_do_not_crash_encode(
    name: str, attributes: dict[str, Any], lands: tuple[tuple[str | int, ...], str]
) -> None:
    """A lone surrogate (raw, or as a JSON ``\\ud800`` escape in a message attribute) reaches
    the payload; ``encode`` (``ensure_ascii=False`` then ``.encode()``) raised."""
    result = map_span(SpanRecord(name, attributes, 0, 1))
    assert isinstance(result, Interaction)
    sent = json.loads(encode(result.to_json(), "a", "b"))
    assert sent["reconify"]["appKey"] == "a"
    path, value = lands
    for step in path:
        sent = sent[step]
    assert sent == value


def test_regression_nan_in_a_message_attribute_is_not_sent_as_invalid_json() -> None:
    """``json.loads`` accepts NaN/Infinity; ``encode`` writes them back: not JSON (RFC 8259)."""
    attrs = {A.RUN_ID: "run_1", A.RESPONSE_MESSAGES: '[{"content": [], "metadata": {"x": NaN}}]'}
    result = map_span(SpanRecord("invoke_agent X", attrs, 0, 1))
    assert isinstance(result, Interaction)
    body = encode(result.to_json(), "a", "b")

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    assert json.loads(body, parse_constant=refuse)["response"]["metadata"] == {"x": None}


def test_regression_deeply_nested_message_attribute_does_not_raise_from_prepare() -> None:
    """``size_caps.cap_fields`` recurses two frames per level (function + comprehension):
    JSON that ``json.loads`` accepts (~500 to ~990 levels) raised ``RecursionError``; now
    ``prepare`` delivers it whole when it is small (encoded once, no field walk)."""
    result = offline_preparer().prepare(SpanRecord(*DEEP_DEFECT_INPUT, 0, 1))
    assert isinstance(result, Prepared), result
    level, depth = json.loads(result.body)["response"]["metadata"], 0
    while level:
        level, depth = level[0], depth + 1
    assert depth == 599  # nothing lost


def test_regression_mask_pii_is_linear_on_long_words() -> None:
    """With ``mask_pii`` on, one long word-like text (a base64 blob, a hash dump) stalled the
    exporter thread or a bridge worker: the e-mail pattern rescanned from every offset."""
    assert privacy.mask_text(REDOS_INPUT) == REDOS_INPUT
    assert privacy.mask_text("1" * 20_000 + "x") == "1" * 20_000 + "x"
