"""A fake of pygame's documented joystick API (init, joystick.*, event.pump), for tests only."""

from __future__ import annotations

from . import event, joystick

initialised = False


def init() -> tuple[int, int]:
    global initialised
    initialised = True
    return (6, 0)


__all__ = ["event", "init", "joystick"]
