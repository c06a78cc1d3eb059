"""Twin cells with injected sensor faults for the operator tools, and the seed their locations come from.

The fault locations are drawn from a seed per test run (`DEXSCREW_FAULT_SEED` to repeat one); the
seed is printed in pytest's header. The tools get a Cell whose World cannot be reached: only the
test, playing the operator, uses the World (to press a pad or take the hand out of its jig).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from dexscrew_sdk import joints
from dexscrew_sdk.cell import Cell
from dexscrew_sdk.ports import free_base_port
from tests.conftest import CONFIGS, start_node

TWIN_CELL = CONFIGS / "twin_cell.toml"
FAULT_SEED = int(os.environ.get("DEXSCREW_FAULT_SEED", secrets.randbelow(2**31)))


def pytest_report_header() -> str:
    return f"tools: fault locations drawn from seed {FAULT_SEED} (set DEXSCREW_FAULT_SEED={FAULT_SEED} to repeat)"


@pytest.fixture
def fault_seed() -> int:
    return FAULT_SEED


def sensor_overrides(sensors: dict[str, Any]) -> list[str]:
    """`--set` overrides putting a [params.sensors] table into the twin node's configuration."""
    out = []
    for key, value in sensors.items():
        if key == "faults":
            out += [f"nodes.twin.params.sensors.faults.{k}={_toml(v)}" for k, v in value.items()]
        else:
            out.append(f"nodes.twin.params.sensors.{key}={_toml(value)}")
    return out


def _toml(value: Any) -> str:
    """A TOML value (inline tables for dicts; JSON lists and strings are TOML already)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}" = {_toml(v)}' for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def open_hand(cell: Cell, seconds: float = 1.5) -> None:
    """The operator's preparation: fingers open, so nothing the hand holds touches a pad."""
    open_q = cell.hand.limits.clip(np.zeros(joints.HAND_DOF))
    for _ in cell.clock.ticks(round(seconds * cell.config.control_hz)):
        cell.hand.command(open_q)


class NoWorld:
    """Stands in for the World in the tools' Cell: any use fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"an operator tool used the World ({name}); tools see only arm, hand and tactile")


@contextmanager
def twin_node(sensors: dict[str, Any] | None = None, extra: list[str] | None = None) -> Iterator[list[str]]:
    """A lockstep twin node with `sensors` on free ports; yields the overrides that reach it."""
    overrides = [f"nodes.twin.base_port={free_base_port()}", *sensor_overrides(sensors or {}), *(extra or [])]
    node = start_node(TWIN_CELL, "twin", overrides, ready_timeout_s=60.0)
    try:
        yield overrides
    finally:
        node.kill(signal.SIGTERM)


@contextmanager
def twin(sensors: dict[str, Any] | None = None, extra: list[str] | None = None) -> Iterator[tuple[Cell, Cell]]:
    """A twin node with `sensors`; yields (the tools' cell without a World, the operator's cell)."""
    with (
        twin_node(sensors, extra) as overrides,
        Cell.connect(TWIN_CELL, overrides, connect_timeout_s=30.0) as tools_cell,
        Cell.connect(TWIN_CELL, overrides, connect_timeout_s=30.0) as operator_cell,
    ):
        tools_cell.devices["world"] = NoWorld()
        yield tools_cell, operator_cell
