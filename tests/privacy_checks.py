"""What the privacy switches must leave of a payload, stated leaf by leaf (shared by the
privacy tests and the LLM end-to-end tests)."""

from __future__ import annotations

import json
from functools import reduce
from typing import Any

from reconify_otel.core.privacy import KEPT

Leaf = tuple[tuple[Any, ...], Any]


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
    and of the strings exactly those under a key of ``KEPT`` (a ``name`` not in a message)."""
    sides = ("request", "response")
    assert {k: v for k, v in without.items() if k not in sides} == {
        k: v for k, v in with_content.items() if k not in sides
    }
    on = {side: with_content[side] for side in sides}
    expected = {leaf for leaf in leaves(on) if not isinstance(leaf[1], str) or _kept(on, leaf)}
    assert leaves({side: without[side] for side in sides}) == expected


def _kept(root: dict[str, Any], leaf: Leaf) -> bool:
    # A string inside a list is kept under the key that holds the list.
    path = leaf[0]
    while not isinstance(path[-1], str):
        path = path[:-1]
    holder = reduce(lambda value, step: value[step], path[:-1], root)
    return path[-1] in KEPT and not (path[-1] == "name" and "role" in holder)


def text_of(payloads: list[dict[str, Any]]) -> str:
    """The whole of what a sink received, as one text to search."""
    return json.dumps(payloads, ensure_ascii=False)
