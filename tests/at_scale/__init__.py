"""Runs a script of several processes (a worker script here, or an example of
docs/at-scale/) with a hard time limit, and checks that it leaves no process.

The script starts in a new session (its own process group): on timeout the
whole group is killed, so a hang fails the test instead of blocking CI, and
afterwards any process still in that group is a leftover, which fails it too.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
EXAMPLES = ROOT / "docs" / "at-scale"

#: Seconds a whole script may take: each test finishes in under a minute.
TIMEOUT = 55


def free_port() -> int:
    """A free TCP port on the loopback interface (for a rendezvous)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user took the id: not ours
        return False
    return True


def run(
    script: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
    grace: float = 5.0,
) -> str:
    """The stdout of ``python script *args``; raises with its stderr if it fails or
    runs past ``timeout`` seconds, or if a process it started outlives it by
    ``grace`` seconds."""
    environ = {**os.environ, **(env or {})}
    # The worktree first, as pytest has it (nox sessions also have it installed).
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")]))
    environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Files, not pipes: a child left running would hold a pipe open, and reading it hang.
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(script), *args],
            stdout=stdout, stderr=stderr, text=True, env=environ,
            start_new_session=True, cwd=ROOT,
        )  # fmt: skip
        try:
            proc.wait(timeout=timeout)
            hung = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            hung = True
        stdout.seek(0)
        stderr.seek(0)
        out, err = stdout.read(), stderr.read()
    if hung:
        raise AssertionError(
            f"{script.name} {' '.join(args)} ran past {timeout} s and was killed\n"
            f"stdout:\n{out}\nstderr:\n{err[-4000:]}"
        )
    # Children that the script did not wait for stay in its process group.
    deadline = time.monotonic() + grace
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _group_alive(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError(f"{script.name} {' '.join(args)} left processes running")
    if proc.returncode != 0:
        raise AssertionError(
            f"{script.name} {' '.join(args)} exited with {proc.returncode}\n"
            f"stdout:\n{out}\nstderr:\n{err[-4000:]}"
        )
    return out


def run_json(script: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """The JSON object a worker script prints as its last line."""
    out = run(script, *args, env=env)
    return json.loads(out.strip().splitlines()[-1])
