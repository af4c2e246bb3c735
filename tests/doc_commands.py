"""The shell commands the docs show, read from the docs themselves, and a way to run them.

Tests run the README's commands as written rather than a copy that could drift from it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples"
VENV_BIN = Path(sys.executable).parent
SHELL_LANGUAGES = ("sh", "bash", "shell", "console")


def documents() -> list[Path]:
    """Every markdown file whose commands users copy."""
    return [
        README,
        ROOT / "CONTRIBUTING.md",
        *sorted((ROOT / "docs").glob("*.md")),
        *sorted(EXAMPLES.rglob("*.md")),
    ]


def shell_blocks(path: Path) -> list[str]:
    """The fenced shell blocks of a markdown file, in order."""
    blocks: list[str] = []
    language: str | None = None
    lines: list[str] = []
    for line in path.read_text().splitlines():
        if not line.startswith("```"):
            lines.append(line)
        elif language is None:
            language, lines = line[3:].strip(), []
        else:
            if language in SHELL_LANGUAGES:
                blocks.append("\n".join(lines) + "\n")
            language = None
    return blocks


def commands(block: str) -> list[str]:
    """A block's commands: continuation lines joined, comments and blank lines left out."""
    found: list[str] = []
    pending = ""
    for raw in block.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line and not pending:
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        found.append(" ".join((pending + line.strip()).split()))
        pending = ""
    return found


def block_with(path: Path, needle: str) -> str:
    """The one shell block of ``path`` that contains ``needle``."""
    (block,) = [b for b in shell_blocks(path) if needle in b]
    return block


def user_env(**extra: str) -> dict[str, str]:
    """A shell like a new user's after activating the venv: nothing of ours configured."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OPENAI_", "RECONIFY_", "OTEL_"))
    }
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV_BIN.parent)
    return {**env, **extra}


def run_shell(block: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a documented block with bash, stopping at the first failing command."""
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
