"""The object's pose as the scripted operator may see it: read-only, from the twin's World, over the bus."""

from __future__ import annotations

import numpy as np
import pytest

from dexscrew_sdk import kinematics
from dexscrew_sdk.hosting import progress_dict
from dexscrew_sdk.records import TaskProgress
from dexscrew_sdk.teleop.follow import ReadOnlyWorld
from tests.teleop.conftest import LocalCell


def test_the_pose_survives_the_bus_encoding(local_cell: LocalCell) -> None:
    sent = progress_dict(local_cell.world)  # what a node replies to `progress`
    got = TaskProgress(**sent)  # what RemoteWorld rebuilds
    assert isinstance(got.object_pose, tuple) and len(got.object_pose) == 6
    np.testing.assert_allclose(got.object_pose[:3], local_cell.world.object_xyz_m)


def test_the_twin_shows_where_the_object_is_and_the_view_moves_nothing() -> None:
    pytest.importorskip("pybullet")
    from twins.cell import TwinCell

    cell = TwinCell()
    try:
        view = ReadOnlyWorld(cell.world)
        pose = view.object_pose()
        assert pose is not None
        pos, rot = cell.scene.obj.pose()
        np.testing.assert_allclose(pose[:3], pos, atol=1e-9)
        np.testing.assert_allclose(kinematics.rotvec_to_matrix(pose[3:]), rot, atol=1e-6)
        pose[:] = 0.0  # a copy: writing to it moves nothing
        np.testing.assert_allclose(cell.scene.obj.pose()[0], pos, atol=1e-12)
        cell.world.perturb("counter_rotate")  # the test (never the operator) turns the nut back a quarter
        rise_m = view.object_pose()[2] - pos[2]
        assert rise_m == pytest.approx(0.25 * cell.params.pitch_m, rel=0.25)  # it climbed the thread
    finally:
        cell.close()
