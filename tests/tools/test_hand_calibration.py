"""`calibrate hand` on the twin in jig mode: injected offsets are measured, backlash is named, a healthy hand passes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk import calibration_files as cf
from dexscrew_sdk import joints
from dexscrew_sdk.cell import Cell
from tests.conftest import REPO
from tests.tools.conftest import TWIN_CELL, twin, twin_node
from tools import hand_calibration
from twins import faults

pytestmark = [pytest.mark.integration, pytest.mark.slow]
JIG = np.array([0.2, 0.1, 0.3, 0.0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3])  # a jig pose clear of the object


def _operator(operator_cell):
    """The operator: the hand is in the jig at start; takes it out when told to."""

    def confirm(instruction: str) -> None:
        if instruction.startswith("Take the hand out of the jig"):
            operator_cell.world.perturb("remove_jig")

    return confirm


def test_injected_offsets_are_measured_and_the_written_file_cancels_them(fault_seed: int, tmp_path: Path) -> None:
    drawn = faults.draw(fault_seed, dead=0, stuck=0, saturated=0, noisy=0, offsets=3, backlash=0)
    sensors = {"faults": {"joint_offsets_rad": drawn.joint_offsets_rad}, "jig_rad": JIG.tolist()}
    out = tmp_path / "calib" / "hand_joint_offsets.json"
    with twin(sensors) as (cell, operator):
        result = hand_calibration.calibrate(cell, out, JIG, 20, _operator(operator), show_progress=False)
    assert result["ok"] and all(c["status"] == "ok" for c in result["verification"])
    changed = {n for n, v in result["changed_rad"].items() if abs(v) > 0.02}
    assert changed == set(drawn.joint_offsets_rad)  # every injected offset found, nothing else
    for name, injected in drawn.joint_offsets_rad.items():
        assert result["joint_offsets_rad"][name] == pytest.approx(-injected, abs=0.01)
    written = cf.load_joint_offsets(out)
    assert written.revision == 1 and written.procedure["jig_rad"] == JIG.tolist()
    # the same hand, with the file applied as the driver would: back in the jig it reads the jig's angles
    sensors["joint_offsets_file"] = str(out)
    with twin(sensors) as (cell, _):
        for _ in cell.clock.ticks(30):
            pass
        np.testing.assert_allclose(cell.hand.state().q_rad, JIG, atol=0.01)
        assert cell.hand.info().extra["calibration"][cf.HAND_JOINT_OFFSETS]["sha256"] == written.sha256


def test_backlash_is_named_and_nothing_is_written(fault_seed: int, tmp_path: Path) -> None:
    drawn = faults.draw(fault_seed + 1, dead=0, stuck=0, saturated=0, noisy=0, offsets=1, backlash=1)
    (loose,) = drawn.backlash_rad
    sensors = {"faults": {"joint_offsets_rad": drawn.joint_offsets_rad, "backlash_rad": drawn.backlash_rad}}
    sensors["jig_rad"] = JIG.tolist()
    out = tmp_path / "hand_joint_offsets.json"
    with twin(sensors) as (cell, operator), pytest.raises(hand_calibration.CalibrationRefused) as refused:
        hand_calibration.calibrate(cell, out, JIG, 20, _operator(operator), show_progress=False)
    message = str(refused.value)
    named = {n for n in joints.HAND_JOINT_NAMES if f"backlash: {n}:" in message}
    assert named == {loose}, message
    assert not out.exists() and not list(tmp_path.iterdir())


def test_a_joint_outside_its_jig_is_refused_by_name(tmp_path: Path) -> None:
    told = JIG.copy()
    told[7] += 0.5  # the operator gives the wrong jig angle for mid_j2 (or the finger is not seated)
    implausible = r"implausible joint offset .*mid_j2 \+0\.50"
    with (
        twin({"jig_rad": JIG.tolist()}) as (cell, op),
        pytest.raises(hand_calibration.CalibrationRefused, match=implausible),
    ):
        hand_calibration.calibrate(cell, tmp_path / "x.json", told, 20, _operator(op), show_progress=False)
    assert not list(tmp_path.iterdir())


def test_a_healthy_hand_calibrates_to_zero(tmp_path: Path) -> None:
    out = tmp_path / "hand_joint_offsets.json"
    with twin({"jig_rad": JIG.tolist()}) as (cell, operator):
        result = hand_calibration.calibrate(cell, out, JIG, 20, _operator(operator), show_progress=False)
    assert result["ok"]
    assert max(abs(v) for v in result["joint_offsets_rad"].values()) < 0.01
    backlash = [abs(c["backlash_rad"]) for c in result["verification"]]
    assert max(backlash) < hand_calibration.BACKLASH_TOL_RAD


def test_the_command_line_guides_the_operator_step_by_step(tmp_path: Path) -> None:
    """`dexscrew calibrate hand`: instructions on stderr, Enter on stdin, the operator un-jigs, JSON on stdout."""
    out = tmp_path / "hand_joint_offsets.json"
    with twin_node({"jig_rad": JIG.tolist()}) as overrides, Cell.connect(TWIN_CELL, overrides) as operator:
        cmd = [sys.executable, "-m", "tools.hand_calibration", str(TWIN_CELL), "--out", str(out), "--frames", "10"]
        cmd += ["--jig", *map(str, JIG)] + [a for o in overrides for a in ("--set", o)]
        proc = subprocess.Popen(
            cmd, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert proc.stdin is not None and proc.stderr is not None
        seen = []
        for line in proc.stderr:  # each instruction is one line; the tool then waits for Enter
            seen.append(line)
            if "Seat the hand in its jig" in line:  # (after the previous prompt, which ends without a newline)
                proc.stdin.write("\n")
                proc.stdin.flush()
            elif "Take the hand out of the jig" in line:
                operator.world.perturb("remove_jig")
                proc.stdin.write("\n")
                proc.stdin.flush()
                break
        stdout, rest = proc.communicate(timeout=300)
    assert proc.returncode == 0, "".join(seen) + rest
    assert json.loads(stdout.strip().splitlines()[-1])["file"]["revision"] == 1  # stdout: only the JSON result
    assert cf.load_joint_offsets(out).procedure["jig_rad"] == JIG.tolist()
