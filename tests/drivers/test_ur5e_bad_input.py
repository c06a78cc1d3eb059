"""Bad input never reaches ur_rtde: the driver's calls are recorded by a spy around the real client."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dexscrew_sdk import joints
from dexscrew_sdk.config import make_hosted
from dexscrew_sdk.errors import CommandRejected, ConfigError
from dexscrew_sdk.params import NodeContext
from dexscrew_sdk.safety import Workspace
from drivers.ur5e import UR5eArm, UR5eConfig

pytestmark = pytest.mark.integration


class Spy:
    """Wraps a ur_rtde interface and records every method call with its arguments."""

    def __init__(self, inner: Any, calls: list[tuple[str, tuple[Any, ...]]]) -> None:
        self._inner, self._calls = inner, calls

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any) -> Any:
            self._calls.append((name, args))
            return attr(*args)

        return call


@pytest.fixture(scope="module")
def spied(emulator) -> Iterator[tuple[UR5eArm, list[tuple[str, tuple[Any, ...]]]]]:
    import rtde_control
    import rtde_receive

    calls: list[tuple[str, tuple[Any, ...]]] = []
    interfaces = (
        lambda *a: Spy(rtde_control.RTDEControlInterface(*a), calls),
        lambda *a: Spy(rtde_receive.RTDEReceiveInterface(*a), calls),
    )
    workspace = Workspace((-1.0, -1.0, 0.0), (1.0, 1.0, 1.2))
    arm = UR5eArm(UR5eConfig(host="127.0.0.1"), workspace=workspace, interfaces=interfaces)
    arm.connect()
    yield arm, calls
    arm.close()


def motion_calls(calls: list[tuple[str, tuple[Any, ...]]]) -> list[tuple[str, tuple[Any, ...]]]:
    return [c for c in calls if c[0] in ("servoJ", "moveJ", "speedJ")]


def all_finite_and_in_limits(calls: list[tuple[str, tuple[Any, ...]]]) -> bool:
    for _, args in motion_calls(calls):
        q = np.asarray(args[0], dtype=float)
        if not np.isfinite(q).all() or (q < joints.UR5E_LOWER_RAD).any() or (q > joints.UR5E_UPPER_RAD).any():
            return False
    return True


bad_value = st.sampled_from([math.nan, math.inf, -math.inf, 7.0, -7.0, 1e9])


@settings(max_examples=40, deadline=None)
@given(index=st.integers(0, 5), value=bad_value, method=st.sampled_from(["servo", "move_to"]))
def test_nan_and_out_of_limit_targets_never_reach_ur_rtde(spied, index: int, value: float, method: str) -> None:
    arm, calls = spied
    before = len(motion_calls(calls))
    q = joints.UR5E_HOME_RAD.copy()
    q[index] = value
    with pytest.raises(CommandRejected):
        getattr(arm, method)(q)
    assert len(motion_calls(calls)) == before
    assert all_finite_and_in_limits(calls)


def test_wrong_shape_and_workspace_violations_are_rejected(spied) -> None:
    arm, calls = spied
    before = len(motion_calls(calls))
    for bad in ([0.0] * 5, [[0.0] * 6], "home", None):
        with pytest.raises(CommandRejected):
            arm.servo(bad)
    below_table = joints.UR5E_HOME_RAD + np.array([0.0, 1.2, 0.0, 0.0, 0.0, 0.0])  # TCP under z = 0
    with pytest.raises(CommandRejected, match="workspace"):
        arm.servo(below_table)
    assert len(motion_calls(calls)) == before
    arm.servo(joints.UR5E_HOME_RAD)  # a good target still goes through
    assert motion_calls(calls)[-1][0] == "servoJ"
    assert len(motion_calls(calls)[-1][1]) == 6  # positional: q, speed, acceleration, time, lookahead, gain


@pytest.mark.parametrize(
    "params, match",
    [
        ({"gain": 50}, "gain"),
        ({"lookahead_s": 0.5}, "lookahead"),
        ({"frequency_hz": 1000}, "frequency"),
        ({"payload_kg": 9.0}, "payload"),
        ({"tcp": [0, 0, "x", 0, 0, 0]}, "tcp"),
        ({"tcp": [0, 0, 0.1]}, "tcp"),
        ({"hots": "10.0.0.2"}, "unknown"),
    ],
)
def test_bad_configuration_is_a_config_error(params: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make_hosted("ur5e", params, _ctx(("arm",)))


def _ctx(devices: tuple[str, ...], lockstep: bool = False) -> NodeContext:
    return NodeContext("arm", devices, lockstep, 20.0)


def test_node_serves_only_the_arm_in_real_time() -> None:
    with pytest.raises(ConfigError, match="exactly"):
        make_hosted("ur5e", {}, _ctx(("arm", "hand")))
    with pytest.raises(ConfigError, match="lockstep"):
        make_hosted("ur5e", {}, _ctx(("arm",), lockstep=True))
    hosted = make_hosted("ur5e", {"host": "127.0.0.1", "arm_limits": {"upper_rad": [3.0] * 6}}, _ctx(("arm",)))
    assert hosted.sim is None and hosted.devices["arm"].limits.upper_rad.max() == 3.0


def test_the_old_limits_spelling_is_refused_with_the_one_spelling_named() -> None:
    with pytest.raises(ConfigError, match=r"unknown key \['limits'\].*arm_limits"):
        make_hosted("ur5e", {"limits": {"upper_rad": [3.0] * 6}}, _ctx(("arm",)))
