"""The harness of the distributed tests (tests/at_scale/): a script that hangs is
killed, its children with it, and fails; a process left running fails.

Checked once (the ``once`` marker): the harness is the same on every Python and
in every environment, and the distributed tests run on the main Python.
"""

from __future__ import annotations

import os
import textwrap
import time

import pytest
from at_scale import run

pytestmark = [
    pytest.mark.distributed,
    pytest.mark.only("numpy", reason="the harness of the distributed tests, checked once"),
    pytest.mark.once,
]


def _script(tmp_path, seconds: float, then: str = ""):
    """A script that starts a child sleeping ``seconds``, prints its pid, then runs ``then``."""
    path = tmp_path / "script.py"
    path.write_text(
        textwrap.dedent(f"""
            import subprocess, sys, time
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep({seconds})"])
            print(child.pid, flush=True)
        """)
        + then
    )
    return path


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie, not yet reaped by its new parent, is gone too
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _gone(pid: int, wait: float = 10.0) -> bool:
    """Whether ``pid`` is dead within ``wait`` seconds: a SIGKILL is delivered when
    the process is next scheduled, which on a loaded machine is not at once."""
    deadline = time.monotonic() + wait
    while not _dead(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_hang_is_killed_with_its_children(backend, tmp_path):
    # 6 s: time enough for the script to start its child and print its pid on a
    # loaded machine, far less than the minute the script would take.
    with pytest.raises(AssertionError, match="ran past 6 s and was killed") as info:
        run(_script(tmp_path, 60, then="time.sleep(60)\n"), timeout=6)
    child = int(str(info.value).split("stdout:\n")[1].split()[0])
    assert _gone(child)


def test_a_process_left_running_fails(backend, tmp_path):
    with pytest.raises(AssertionError, match="left processes running") as info:
        run(_script(tmp_path, 60), grace=0.5)
    assert "left processes running" in str(info.value)


def test_a_script_that_waits_for_its_children_passes(backend, tmp_path):
    out = run(_script(tmp_path, 0.1, then="child.wait()\nprint('done')\n"), timeout=20)
    assert out.split()[-1] == "done"
