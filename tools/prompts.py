"""Talking to the operator on stderr and stdin, so stdout carries only the tool's JSON result."""

from __future__ import annotations

import sys
from collections.abc import Callable

from dexscrew_sdk.errors import DexscrewError


def _read_line(prompt: str) -> str:
    print(prompt, end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line:
        raise EOFError("stdin is closed")
    return line.strip()


def instructions(wait: bool, after: str = "Press Enter when done. ") -> Callable[[str], None]:
    """A callback that shows an instruction and, if `wait`, returns once the operator presses Enter."""

    def show(instruction: str) -> None:
        print(instruction, file=sys.stderr, flush=True)
        if wait:
            try:
                _read_line(after)
            except EOFError:
                raise DexscrewError("nobody to confirm the step (stdin is closed); pass --yes if it is done") from None

    return show


def confirm_yes(prompt: str) -> bool:
    """True only if the operator types 'yes'; False when nobody can answer (stdin closed)."""
    try:
        return _read_line(f"{prompt} Type 'yes': ").lower() == "yes"
    except EOFError:
        print("(no answer: stdin is closed)", file=sys.stderr)
        return False
