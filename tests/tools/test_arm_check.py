"""`calibrate arm` on the hardware-in-the-loop cell: the real ur_rtde client reads the emulated controller."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

from dexscrew_sdk import config, joints
from dexscrew_sdk.cell import Cell
from dexscrew_sdk.ports import free_base_port
from dexscrew_sdk.safety import JointLimits, Workspace
from tests.conftest import CONFIGS, REPO, start_node
from tools import arm_check

pytestmark = [pytest.mark.integration, pytest.mark.slow]
HIL = CONFIGS / "hil_cell.toml"
MOUNTED = [
    "nodes.arm.params.tcp=[0.0, 0.0, 0.16, 0.0, 0.0, 0.0]",
    "nodes.arm.params.payload_kg=1.1",
    "nodes.arm.params.payload_cog_m=[0.0, 0.0, 0.07]",
    "nodes.arm.params.workspace.min_xyz_m=[-0.9, -0.9, 0.02]",
    "nodes.arm.params.workspace.max_xyz_m=[0.9, 0.9, 1.0]",
]


@pytest.fixture(scope="module")
def hil_cell() -> Iterator[list[str]]:
    """The emulator node and the UR5e driver node, set up for the mounted hand; yields the overrides."""
    ports = [f"nodes.cell.base_port={free_base_port()}", f"nodes.arm.base_port={free_base_port()}"]
    overrides = ports + MOUNTED
    emulator = start_node(HIL, "cell", overrides)
    try:
        arm = start_node(HIL, "arm", overrides, ready_timeout_s=60.0)
        try:
            yield overrides
        finally:
            arm.kill(signal.SIGTERM)
    finally:
        emulator.kill(signal.SIGTERM)


def _statuses(report: dict) -> dict[str, str]:
    return {f["check"]: f["status"] for f in report["findings"]}


def test_a_cell_set_up_as_configured_passes_and_goes_home_slowly(hil_cell: list[str]) -> None:
    cfg = config.load(HIL, hil_cell)
    with Cell.connect(cfg) as cell:  # start away from home
        cell.arm.move_to(joints.UR5E_HOME_RAD + np.array([0.1, 0.05, -0.05, 0.0, 0.1, 0.0]), speed_rad_s=1.0)
    asked: list[str] = []
    report = arm_check.run_checks(cfg, lambda prompt: asked.append(prompt) or True)
    assert report["ok"], report["findings"]
    assert _statuses(report) == {
        "tcp_position": "ok",
        "tcp_rotation": "ok",
        "payload_mass": "ok",
        "payload_cog": "ok",
        "home_joint_limits": "ok",
        "current_pose_joint_limits": "ok",
        "home_in_workspace": "ok",
        "current_pose_in_workspace": "ok",
        "move_home": "ok",
    }
    assert len(asked) == 1 and "0.2 rad/s" in asked[0]
    with Cell.connect(cfg) as cell:
        np.testing.assert_allclose(cell.arm.state().q_rad, joints.UR5E_HOME_RAD, atol=arm_check.HOME_REACHED_RAD)


def test_a_tcp_and_payload_other_than_configured_are_found_and_nothing_moves(hil_cell: list[str]) -> None:
    # the configuration says one thing, the controller runs with what the node was started with
    edited = [*hil_cell, "nodes.arm.params.tcp=[0.0, 0.0, 0.10, 0.0, 0.0, 0.0]", "nodes.arm.params.payload_kg=0.8"]
    cfg = config.load(HIL, edited)
    with Cell.connect(cfg) as cell:
        before = cell.arm.state().q_rad
    report = arm_check.run_checks(cfg, lambda _: pytest.fail("must not ask to move after a failed check"))
    assert not report["ok"]
    findings = {f["check"]: f for f in report["findings"]}
    assert findings["tcp_position"]["status"] == "fail"
    assert "z +0.1600 m (configured +0.1000)" in findings["tcp_position"]["detail"]
    assert (
        findings["payload_mass"]["status"] == "fail"
        and "1.100 kg, configured 0.800 kg" in findings["payload_mass"]["detail"]
    )
    assert findings["tcp_rotation"]["status"] == "ok" and findings["payload_cog"]["status"] == "ok"
    assert findings["move_home"]["status"] == "skipped"
    with Cell.connect(cfg) as cell:
        np.testing.assert_allclose(cell.arm.state().q_rad, before, atol=1e-3)  # home is 0.05 rad away


def test_an_unconfirmed_move_does_not_move(hil_cell: list[str]) -> None:
    cfg = config.load(HIL, hil_cell)
    with Cell.connect(cfg) as cell:
        cell.arm.move_to(joints.UR5E_HOME_RAD + 0.05, speed_rad_s=1.0)
        before = cell.arm.state().q_rad
    report = arm_check.run_checks(cfg, lambda _: False)
    assert _statuses(report)["move_home"] == "skipped"
    with Cell.connect(cfg) as cell:
        np.testing.assert_allclose(cell.arm.state().q_rad, before, atol=1e-3)  # home is 0.05 rad away


def test_the_command_line_reports_the_mismatch_as_json(hil_cell: list[str]) -> None:
    cmd = [sys.executable, "-m", "tools.arm_check", str(HIL), "--no-move"]
    for o in [*hil_cell, "nodes.arm.params.payload_cog_m=[0.0, 0.0, 0.02]"]:
        cmd += ["--set", o]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert [f["check"] for f in report["findings"] if f["status"] == "fail"] == ["payload_cog"]
    assert "fail  payload_cog" in done.stderr


def test_limits_and_workspace_sanity_name_what_is_wrong() -> None:
    lim = JointLimits(
        joints.ARM_JOINT_NAMES, joints.UR5E_LOWER_RAD, np.array([6.0, -1.8, 6.0, 6.0, 6.0, 6.0]), np.full(6, 1.0)
    )
    tcp = np.array([0.0, 0.0, 0.16, 0.0, 0.0, 0.0])
    home = joints.UR5E_HOME_RAD
    f = {
        x.check: x
        for x in arm_check.limits_sanity(lim, Workspace((-0.9, -0.9, -0.1), (0.9, 0.9, 0.3)), tcp, home, home)
    }
    assert f["home_joint_limits"].status == "fail" and "shoulder_lift -1.571 rad" in f["home_joint_limits"].detail
    assert f["home_in_workspace"].status == "fail" and "box" in f["home_in_workspace"].detail
    assert f["current_pose_in_workspace"].status == "warn"
    assert f["workspace_floor"].status == "warn"
    none = {x.check: x for x in arm_check.limits_sanity(lim, None, tcp, home, home)}
    assert none["workspace"].status == "warn" and "no TCP workspace box" in none["workspace"].detail
    far = {
        x.check: x for x in arm_check.limits_sanity(lim, Workspace((2.0, 2.0, 0.0), (3.0, 3.0, 1.0)), tcp, home, home)
    }
    assert far["workspace_reach"].status == "fail"


def test_a_cell_without_a_ur_controller_skips_the_read_back(reference_node) -> None:
    cfg = config.load(reference_node.config, reference_node.overrides)
    report = arm_check.run_checks(cfg, lambda _: True, speed_rad_s=0.5)
    assert _statuses(report)["controller_readback"] == "skipped"
    assert _statuses(report)["move_home"] == "ok"
