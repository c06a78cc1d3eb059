"""`calibrate tactile` on the twin: noisy, stuck and saturated taxels refuse by name, drift is named, healthy passes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk import calibration_files as cf
from dexscrew_sdk import joints
from tests.tools.conftest import open_hand, twin
from tools import tactile_calibration
from tools.calibration_store import CalibrationRefused
from tools.taxels import taxel_name
from twins import faults

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FRAMES = 40


def _named(message: str) -> set[str]:
    return set(re.findall(r"\w+ taxel \d+ \(row \d+, col \d+\)", message))


def _ref_name(ref: faults.TaxelRef) -> str:
    return taxel_name(*ref.index)


def test_a_healthy_twin_calibrates_and_the_sensor_applies_the_file(tmp_path: Path) -> None:
    out = tmp_path / "calib" / "tactile_baseline.json"
    with twin() as (cell, _):
        open_hand(cell)
        result = tactile_calibration.calibrate(cell, out, FRAMES, lambda _: None)
    assert result["ok"] and result["drift"]["previous"] is None
    assert result["max_noise_floor_n"] <= tactile_calibration.NOISE_MAX_N
    written = cf.load_tactile_baseline(out)
    assert written.revision == 1 and written.arrays["noise_floor_n"].shape == joints.TACTILE_SHAPE
    with twin({"tactile_zero_file": str(out)}) as (cell, _):
        assert cell.tactile.info().extra["calibration"][cf.TACTILE_BASELINE]["sha256"] == written.sha256


def test_noisy_stuck_and_saturated_taxels_refuse_by_name(fault_seed: int, tmp_path: Path) -> None:
    drawn = faults.draw(fault_seed, dead=0, stuck=1, saturated=1, noisy=2, offsets=0, backlash=0)
    sensors = {"faults": drawn.to_table()}
    out = tmp_path / "tactile_baseline.json"
    with twin(sensors) as (cell, _), pytest.raises(CalibrationRefused) as refused:
        open_hand(cell)
        tactile_calibration.calibrate(cell, out, FRAMES, lambda _: None)
    message = str(refused.value)
    noise_part, _, load_part = message.partition("a local load")
    assert _named(noise_part) == {_ref_name(r) for r in drawn.noisy_taxels}, message
    assert _named(load_part) == {_ref_name(r) for r in drawn.stuck_taxels + drawn.saturated_taxels}, message
    assert not list(tmp_path.iterdir())


def test_drift_since_the_last_calibration_names_the_pad(fault_seed: int, tmp_path: Path) -> None:
    drawn = faults.draw(fault_seed, dead=0, stuck=0, saturated=0, noisy=0, drifting=1, offsets=0, backlash=0)
    (pad,) = drawn.drifting_pads
    out = tmp_path / "tactile_baseline.json"
    with twin({"faults": {"drifting_pads": drawn.drifting_pads}}) as (cell, _):
        open_hand(cell)
        first = tactile_calibration.calibrate(cell, out, FRAMES, lambda _: None)
        for _ in cell.clock.ticks(int(8.0 * cell.config.control_hz)):  # time passes between calibrations
            pass
        second = tactile_calibration.calibrate(cell, out, FRAMES, lambda _: None)
    assert first["drift"]["pads_drifted"] == []
    assert second["drift"]["pads_drifted"] == [pad]
    assert second["drift"]["mean_change_n"][pad] == pytest.approx(drawn.drifting_pads[pad] * 10.0, rel=0.3)
    assert second["drift"]["previous"]["revision"] == 1 and second["file"]["revision"] == 2
    assert cf.load_tactile_baseline(out).previous["sha256"] == first["file"]["sha256"]


def test_a_pressed_pad_is_refused(tmp_path: Path) -> None:
    with twin() as (cell, operator):
        operator.world.perturb("press_middle")
        with pytest.raises(CalibrationRefused, match=r"something touches them\): middle \+"):
            tactile_calibration.calibrate(cell, tmp_path / "x.json", 10, lambda _: None)
    assert np.all([not p.exists() for p in tmp_path.iterdir()])
