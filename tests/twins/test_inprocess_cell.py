"""A lockstep twin cell built in one process: the same devices as its node serves, stepped by its own clock."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk import config as config_mod
from dexscrew_sdk import node_process
from dexscrew_sdk.errors import ConfigError
from dexscrew_sdk.hosting import Hosted
from dexscrew_sdk.inprocess_cell import StepClock, open_inprocess
from dexscrew_sdk.interfaces import Simulated
from tests.conftest import CONFIGS


class _CountingSim(Simulated):
    def __init__(self) -> None:
        self.advanced: list[float] = []

    def advance(self, dt_s: float) -> None:
        self.advanced.append(dt_s)

    def devices(self) -> dict:
        return {}


def test_each_tick_advances_every_simulation_one_period() -> None:
    a, b = _CountingSim(), _CountingSim()
    clock = StepClock(0.05, [a, b])
    assert math.isnan(clock.sim_per_wall())
    for _ in clock.ticks(4):
        pass
    assert a.advanced == b.advanced == [0.05] * 4 and clock.now() == pytest.approx(0.2)
    assert clock.sim_per_wall() > 0  # three periods between the first tick and the last


def test_the_twin_cell_runs_in_one_process_with_the_nodes_devices() -> None:
    cfg = config_mod.load(CONFIGS / "twin_cell.toml")
    with open_inprocess(cfg) as cell:
        assert set(cell.devices) == {"arm", "hand", "tactile", "world"}
        assert cell.clock.period_s == pytest.approx(1.0 / cfg.control_hz)
        cell.world.reset("nut", "square", seed=3)
        q0 = cell.arm.state().q_rad.copy()
        t0 = cell.world.progress().time_s
        cell.arm.servo(q0 + np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.01]))
        for _ in cell.clock.ticks(10):
            pass
        assert cell.world.progress().time_s == pytest.approx(t0 + 10 * cell.clock.period_s)
        assert cell.arm.state().q_rad[5] > q0[5] + 0.005  # the command reached the physics
        assert cell.tactile.frame().force_n.shape == (5, 120, 3)
        with pytest.raises(AttributeError, match="no device 'gripper'"):
            cell.gripper  # noqa: B018


def test_a_real_time_cell_or_a_node_without_a_simulation_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="runs in real time: only a lockstep cell"):
        open_inprocess(config_mod.load(CONFIGS / "hil_cell.toml"))
    closed: list[Hosted] = []
    monkeypatch.setattr(node_process, "host_devices", lambda cfg, name: Hosted({}, sim=None))
    monkeypatch.setattr(node_process, "close_hosted", closed.append)
    with pytest.raises(ConfigError, match="hosts no simulation"):
        open_inprocess(config_mod.load(CONFIGS / "twin_cell.toml"))
    assert len(closed) == 1  # what was built is closed


def test_the_benchmarks_in_process_session_runs_the_record_command_line(tmp_path: Path) -> None:
    from dexscrew_sdk.teleop.bench_record import inprocess_session_rtf

    assert inprocess_session_rtf(tmp_path, "shipped", 1.0) > 0
    assert not any(tmp_path.rglob("*.npz"))  # nothing recorded
