"""The twin's sensor read-out on plain arrays: each fault does what it says, a healthy read-out changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from dexscrew_sdk import calibration_files as cf
from dexscrew_sdk import joints, params
from dexscrew_sdk.errors import ConfigError
from tools import calibration_store
from twins import faults
from twins.faults import FaultParams, SensorParams, SensorReadout, TaxelRef


def _readout(**fault_kwargs) -> SensorReadout:
    return SensorReadout(SensorParams(faults=FaultParams(**fault_kwargs)), seed=1)


def test_a_healthy_readout_passes_physics_through() -> None:
    r = SensorReadout()
    frame = np.zeros(joints.TACTILE_SHAPE, dtype=np.float32)
    frame[1, 7] = (0.2, -0.1, 1.5)
    np.testing.assert_array_equal(r.tactile(frame, 3.0), frame)
    q = np.linspace(0.1, 0.5, 12)
    np.testing.assert_array_equal(r.reported_q(q), q)
    np.testing.assert_array_equal(r.drive_target(q, q * 0), q)


def test_taxel_faults_read_what_they_say() -> None:
    dead, stuck, sat, noisy = TaxelRef("index", 5), TaxelRef("thumb", 0), TaxelRef("ring", 119), TaxelRef("pinky", 60)
    r = _readout(dead_taxels=[dead], stuck_taxels=[stuck], saturated_taxels=[sat], noisy_taxels=[noisy])
    press = np.zeros(joints.TACTILE_SHAPE)
    press[:, :, 2] = 2.0
    frames = np.stack([r.tactile(press * (1 + 0.1 * k), 0.01 * k) for k in range(50)])
    assert (frames[:, 1, 5] == 0).all()
    assert (frames[:, 0, 0, 2] == 1.0).all()
    assert (frames[:, 3, 119, 2] == faults.SATURATION_N).all()
    steady = np.stack([r.tactile(press, 0.01 * k) for k in range(50)])
    assert steady[:, 4, 60, 2].std() > 0.1 and steady[:, 4, 61, 2].std() == 0.0
    healthy = frames[:, 2, 10, 2]
    assert np.ptp(healthy) > 0.5  # the others follow the load


def test_a_drifting_pad_rises_with_time_only_on_its_pad() -> None:
    r = _readout(drifting_pads={"middle": 0.1})
    rest = np.zeros(joints.TACTILE_SHAPE)
    assert r.tactile(rest, 0.2).max() == 0.0  # below the detection threshold at first
    later = r.tactile(rest, 10.0)
    np.testing.assert_allclose(later[2, :, 2], 1.0, rtol=1e-6)
    assert np.abs(np.delete(later, 2, axis=0)).max() == 0.0


def test_joint_offsets_and_backlash() -> None:
    r = _readout(joint_offsets_rad={"index_j1": 0.1}, backlash_rad={"mid_j1": 0.2})
    q = np.full(12, 0.5)
    assert r.reported_q(q)[4] == pytest.approx(0.6)
    # the hand's loop puts the joint where its encoder reads the target: 0.1 rad short
    assert r.drive_target(np.full(12, 0.8), q)[4] == pytest.approx(0.7)
    # backlash: from below the joint stops half the play short, from above half the play beyond
    r = _readout(backlash_rad={"mid_j1": 0.2})
    assert r.drive_target(np.full(12, 1.0), np.full(12, 0.5))[6] == pytest.approx(0.9)
    assert r.drive_target(np.full(12, 1.5), q)[6] == pytest.approx(1.4)
    assert r.drive_target(np.full(12, 1.0), q)[6] == pytest.approx(1.1)
    assert r.drive_target(np.full(12, 1.05), q)[6] == pytest.approx(1.1)  # inside the play: no motion


def test_a_jig_holds_the_physical_joints(tmp_path) -> None:
    jig = np.linspace(0.1, 0.3, 12).tolist()
    r = SensorReadout(SensorParams(faults=FaultParams(joint_offsets_rad={"ring_j2": -0.08}), jig_rad=jig))
    np.testing.assert_allclose(r.drive_target(np.zeros(12), np.zeros(12)), jig)
    assert r.reported_q(np.asarray(jig))[9] == pytest.approx(jig[9] - 0.08)


def test_the_calibration_files_the_driver_applies_are_applied(tmp_path) -> None:
    link = tmp_path / "offsets.json"
    fix = np.zeros(12)
    fix[9] = 0.08
    calibration_store.write_revision(link, cf.HAND_JOINT_OFFSETS, {"joint_offsets_rad": fix})
    base = tmp_path / "tactile.json"
    baseline = np.zeros(joints.TACTILE_SHAPE)
    baseline[2, :, 2] = 0.5
    calibration_store.write_revision(
        base, cf.TACTILE_BASELINE, {"baseline_n": baseline, "noise_floor_n": np.zeros(joints.TACTILE_SHAPE)}
    )
    params = SensorParams(
        faults=FaultParams(joint_offsets_rad={"ring_j2": -0.08}, drifting_pads={"middle": 0.1}),
        joint_offsets_file=str(link),
        tactile_zero_file=str(base),
    )
    r = SensorReadout(params)
    q = np.full(12, 0.4)
    np.testing.assert_allclose(r.reported_q(q), q)  # calibrated: the encoder error is cancelled
    assert np.abs(r.tactile(np.zeros(joints.TACTILE_SHAPE), 5.0)).max() == 0.0  # the baseline absorbs 0.5 N
    assert set(r.info_extra()["calibration"]) == {cf.HAND_JOINT_OFFSETS, cf.TACTILE_BASELINE}


def test_the_operator_press_covers_the_pad_and_ends() -> None:
    r = SensorReadout()
    r.press("ring", 1.0)
    rest = np.zeros(joints.TACTILE_SHAPE)
    mid = r.tactile(rest, 1.5)
    assert mid[3, :, 2].min() > 0.2 and np.abs(np.delete(mid, 3, axis=0)).max() == 0
    assert np.abs(r.tactile(rest, 2.6)).max() == 0.0


def test_fault_locations_come_from_the_seed() -> None:
    a, b = faults.draw(11, drifting=1), faults.draw(11, drifting=1)
    assert a == b and a != faults.draw(12, drifting=1)
    taxels = [t.index for t in a.dead_taxels + a.stuck_taxels + a.saturated_taxels + a.noisy_taxels]
    assert len(set(taxels)) == 4
    assert len(set(a.joint_offsets_rad) | set(a.backlash_rad)) == 3
    assert params.load(SensorParams, {"faults": a.to_table()}, "sensors").faults == a  # through configuration


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"faults": {"dead_taxels": [{"pad": "palm", "taxel": 1}]}}, "pad 'palm'"),
        ({"faults": {"dead_taxels": [{"pad": "index", "taxel": 120}]}}, r"must be in \[0, 119\]"),
        ({"faults": {"joint_offsets_rad": {"wrist": 0.1}}}, "unknown joint 'wrist'"),
        ({"faults": {"backlash_rad": {"index_j1": -0.1}}}, "backlash_rad.index_j1"),
        ({"faults": {"typo": 1}}, r"sensors.faults: unknown key \['typo'\]"),
        ({"jig_rad": [0.0] * 11}, "jig_rad"),
        (
            {"faults": {"dead_taxels": [{"pad": "index", "taxel": 3}], "noisy_taxels": [{"pad": "index", "taxel": 3}]}},
            "listed under two faults",
        ),
    ],
)
def test_bad_fault_configuration_is_refused_naming_the_key(table, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        params.load(SensorParams, table, "nodes.twin.params.sensors")
