"""A second user for the shared-spool tests, and the ``reconify-otel spool`` command.

The tests run as root and play the other user with a forked child that calls
``setgid``/``setuid``; the ``shared`` fixture (conftest.py) is a folder both can write to.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .helpers import API_KEY, APP_KEY

NEEDS_ROOT = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to act as other users"
)
NOBODY = 65534
OTHER = 65533


def as_user(uid: int, work: Callable[[], None]) -> None:
    """``work`` in a forked child running as ``uid``; its failure fails the test."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.setgid(uid)
            os.setuid(uid)
            work()
            code = 0
        except BaseException as error:  # reported through the exit code
            print(f"as uid {uid}: {error!r}", file=sys.stderr, flush=True)
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def reconify_otel(
    *args: str, spool: Path, endpoint: str = "", timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """``reconify-otel spool *args``, in at most ``timeout`` seconds and 2 GB of address
    space (a command that reads without end fails fast, not the machine)."""
    env = {**os.environ, "RECONIFY_SPOOL_DIR": str(spool), **env}
    env.update(RECONIFY_APP_KEY=APP_KEY, RECONIFY_API_KEY=API_KEY, RECONIFY_ENDPOINT=endpoint)
    # The limit is set by the child itself: a ``preexec_fn`` would make subprocess fork
    # this (large, many-threaded) test process and run every at-fork handler in it.
    return subprocess.run(
        [sys.executable, "-c", _LIMITED_CLI, "spool", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


_LIMITED_CLI = (
    "import resource, runpy, sys; "
    "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
    "sys.argv[0] = 'reconify-otel'; "
    "runpy.run_module('reconify_otel.cli', run_name='__main__', alter_sys=True)"
)
