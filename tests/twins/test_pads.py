"""Tactile pads on the left XHand: a press on a pad shows up as pressure, on that pad, where it was pressed,
in the taxel layout that joints.py states (rows across, columns along the finger, forces across/along/normal)."""

from __future__ import annotations

import numpy as np
import pybullet as pb
import pytest

from dexscrew_sdk import joints
from twins import pads
from twins.bullet import load_hand
from twins.tactile import TaxelModel


@pytest.fixture()
def hand():
    c = pb.connect(pb.DIRECT)
    h = load_hand(c, np.zeros(3))
    yield h
    pb.disconnect(c)


def _press(hand, finger: int, along_m: float, across_m: float = 0.0) -> np.ndarray:
    """A small fixed box pushed 1 mm into `finger`'s pad, `along_m` from the pad centre towards the tip."""
    c = hand.client
    state = pb.getLinkState(hand.body, hand.tip_ids[finger], computeForwardKinematics=1, physicsClientId=c)
    origin, rot = np.array(state[4]), np.array(pb.getMatrixFromQuaternion(state[5])).reshape(3, 3)
    half = 0.002
    centre = origin + rot @ np.array([across_m, along_m, half - 0.001])  # overlapping the pad by 1 mm
    box = pb.createMultiBody(
        baseMass=0,
        baseCollisionShapeIndex=pb.createCollisionShape(pb.GEOM_BOX, halfExtents=[half] * 3, physicsClientId=c),
        basePosition=centre.tolist(),
        baseOrientation=state[5],
        physicsClientId=c,
    )
    pb.setGravity(0, 0, 0, physicsClientId=c)
    hand.position_motors(np.zeros(12), 0.5, 1.0, np.full(12, 5.0))  # the finger holds still against the box
    for _ in range(3):
        pb.stepSimulation(physicsClientId=c)
    frame = TaxelModel(hand, noise_n=0.0).frame(box)
    pb.removeBody(box, physicsClientId=c)
    return frame.reshape(5, *joints.TAXEL_GRID, 3)


def test_taxel_layout_is_stated_once() -> None:
    assert joints.TAXEL_GRID == (10, 12) and joints.TAXEL_AXES == ("across", "along")
    assert joints.TACTILE_FORCE_AXES == ("across", "along", "normal")
    assert pads.PAD_ALONG_M > pads.PAD_ACROSS_M  # 12 columns along, 10 rows across


@pytest.mark.parametrize("finger", [0, 1])  # thumb (pad on -z of its link) and index (-y)
def test_a_press_reads_as_pressure_on_that_pad_where_it_was_pressed(hand, finger: int) -> None:
    near_tip = _press(hand, finger, +0.008)
    near_base = _press(hand, finger, -0.008)
    for frame in (near_tip, near_base):
        normal = frame[..., 2]
        assert normal[finger].sum() > 0.1  # pressing reads positive
        others = [f for f in range(5) if f != finger]
        assert np.abs(frame[others]).max() == 0.0
    col_tip = np.argmax(near_tip[finger, ..., 2].sum(0))  # columns run along the finger, 0 at the base
    col_base = np.argmax(near_base[finger, ..., 2].sum(0))
    assert col_tip > col_base + 3, (col_tip, col_base)
    rows = [np.argmax(_press(hand, finger, 0.0, x)[finger, ..., 2].sum(1)) for x in (-0.005, 0.005)]
    assert rows[1] > rows[0] + 2, rows  # rows run across the pad, along its +x
