"""What the privacy switches must leave of a payload, stated leaf by leaf (shared by the
privacy tests and the LLM end-to-end tests)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import reduce
from typing import Any

from reconify_otel.core.conventions import Kind
from reconify_otel.core.interaction import FORMATS, Interaction, interaction_of
from reconify_otel.core.privacy import (
    CONTAINERS,
    JSON_TYPES,
    KEPT,
    ROOT_CONTAINERS,
    is_result,
    is_token,
)

Leaf = tuple[tuple[Any, ...], Any]
Switch = Callable[[Interaction], Interaction]


def on_json(switch: Switch) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A privacy switch (an interaction in, one out) run on an interaction written as its
    JSON, as the payloads of the privacy tests are; the JSON of the result."""

    def run(payload: Mapping[str, Any]) -> dict[str, Any]:
        header = payload["reconify"]
        named = (header.get("format"), header.get("type"))
        kind = next((k for k, f in FORMATS.items() if f == named), Kind.CHAT)
        interaction = interaction_of(payload, kind)
        assert interaction is not None, payload
        return switch(interaction).to_json()

    return run


def leaves(value: Any, path: tuple[Any, ...] = ()) -> set[Leaf]:
    """Every non-null scalar with its place (list items by position)."""
    if isinstance(value, dict):
        return {leaf for k, v in value.items() for leaf in leaves(v, (*path, k))}
    if isinstance(value, list):
        return {leaf for i, v in enumerate(value) for leaf in leaves(v, (*path, i))}
    return set() if value is None else {(path, value)}


def check_content_off(with_content: dict[str, Any], without: dict[str, Any]) -> None:
    """``without`` is ``with_content`` sent with ``capture_content=False``: the same
    envelope; in request and response the same numbers and booleans at the same places,
    and of the strings exactly those at a protocol position (``_kept``)."""
    sides = ("request", "response")
    assert {k: v for k, v in without.items() if k not in sides} == {
        k: v for k, v in with_content.items() if k not in sides
    }
    on = {side: with_content[side] for side in sides}
    expected = {leaf for leaf in leaves(on) if not isinstance(leaf[1], str) or _kept(on, leaf)}
    assert leaves({side: without[side] for side in sides}) == expected


def _kept(root: dict[str, Any], leaf: Leaf) -> bool:
    """A string directly under a key (never a list item): under ``KEPT``, as one token, in
    an object reached from its side through ``CONTAINERS`` keys alone (``input`` and
    ``output`` at the top only; never a ``*_result`` block's ``content``), and not a
    message's ``name``; or, anywhere, a JSON type name under ``type``."""
    path, text = leaf
    if not isinstance(path[-1], str):
        return False
    if path[-1] == "type" and text in JSON_TYPES:
        return True
    holder = reduce(lambda value, step: value[step], path[:-1], root)
    if path[-1] not in KEPT or not is_token(text) or (path[-1] == "name" and "role" in holder):
        return False
    keys = [(i, step) for i, step in enumerate(path[1:-1], 1) if isinstance(step, str)]
    for depth, (i, step) in enumerate(keys):
        parent = reduce(lambda value, step: value[step], path[:i], root)
        inner = ROOT_CONTAINERS if depth == 0 else CONTAINERS
        if step not in inner or (step == "content" and is_result(parent)):
            return False
    return True


def text_of(payloads: list[dict[str, Any]]) -> str:
    """The whole of what a sink received, as one text to search."""
    return json.dumps(payloads, ensure_ascii=False)
