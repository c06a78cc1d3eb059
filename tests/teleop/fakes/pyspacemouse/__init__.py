"""A fake of pyspacemouse's documented API: open() -> device or None, read() -> state, close()."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SpaceNavigator:
    t: float = 0.0
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    roll: float = 0.0
    pitch: float = 0.0
    yaw: float = 0.0
    buttons: list[int] = field(default_factory=lambda: [0, 0])


plugged_in = True
state = SpaceNavigator()
_open = False


def open(*args: object, **kwargs: object) -> object | None:
    global _open
    if not plugged_in:
        return None
    _open = True
    return object()


def read() -> SpaceNavigator:
    if not _open:
        raise RuntimeError("no device open")
    return state


def close() -> None:
    global _open
    _open = False
