"""Start `python -m twins.ur_emulator` as a child process and wait until it serves (tests, `bench ur5e`)."""

from __future__ import annotations

import contextlib
import selectors
import subprocess
import sys
from collections.abc import Sequence


def spawn_emulator(args: Sequence[str] = (), timeout_s: float = 20.0) -> subprocess.Popen[str]:
    """The emulator's process, once it has printed its ready line (its ports are bound).

    Raises RuntimeError, with the child killed, if it prints something else, exits, or says
    nothing for `timeout_s` (another emulator may hold port 30004: it waits for it to be free).
    """
    proc = subprocess.Popen([sys.executable, "-m", "twins.ur_emulator", *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line, answered = "", False
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if sel.select(timeout=max(0.0, timeout_s)):
            answered, line = True, proc.stdout.readline()  # the child prints whole lines and flushes them
    if "ready" in line:
        return proc
    exited = None
    if answered and not line:  # end of output: the child is exiting
        with contextlib.suppress(subprocess.TimeoutExpired):
            exited = proc.wait(timeout=5.0)
    proc.kill()
    proc.wait(timeout=10)
    if exited is not None:
        said = f"exited with code {exited}"
    else:
        said = f"said {line!r}" if line else f"said nothing within {timeout_s} s"
    raise RuntimeError(f"the UR emulator did not start ({said}; is another one holding port 30004?)")
