"""Whether the tests run in CI: there, a missing tool fails instead of skipping, and the
fuzz tests try more examples (CONTRIBUTING.md)."""

from __future__ import annotations

import os


def in_ci() -> bool:
    """CI sets ``CI`` (``true`` on the common services; ``.ci/run`` sets it too)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
