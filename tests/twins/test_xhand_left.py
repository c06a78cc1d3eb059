"""The generated LEFT XHand, checked through PyBullet against independent values of xhand_left.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pybullet as pb
import pytest
import tomllib

from dexscrew_sdk import joints
from dexscrew_sdk.skills import layout
from twins import pads, xhand_left
from twins.bullet import link_indices, urdf_file

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def hand():
    c = pb.connect(pb.DIRECT)
    path = urdf_file(xhand_left.hand_urdf())
    body = pb.loadURDF(path, [0, 0, 0], useFixedBase=True, flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=c)
    jn, ln = link_indices(c, body)
    yield c, body, jn, ln
    pb.disconnect(c)


def _set(hand, q: np.ndarray) -> None:
    c, body, jn, _ = hand
    for name, v in zip(joints.HAND_JOINT_NAMES, q, strict=True):
        pb.resetJointState(body, jn[name], float(v), 0.0, physicsClientId=c)


def _pose(hand, link: str) -> tuple[np.ndarray, np.ndarray]:
    c, body, _, ln = hand
    s = pb.getLinkState(body, ln[link], computeForwardKinematics=1, physicsClientId=c)
    return np.array(s[4]), np.array(pb.getMatrixFromQuaternion(s[5])).reshape(3, 3)


def test_every_canonical_joint_is_a_revolute_joint_of_the_model(hand) -> None:
    c, body, jn, _ = hand
    assert set(joints.HAND_JOINT_NAMES) <= set(jn)
    assert all(pb.getJointInfo(body, jn[n], physicsClientId=c)[2] == pb.JOINT_REVOLUTE for n in joints.HAND_JOINT_NAMES)


def test_fingertips_at_zero_are_where_the_facts_put_them(hand) -> None:
    _set(hand, np.zeros(12))
    assert np.allclose(_pose(hand, "left_hand_index_rota_tip")[0], (0.0265, -0.0065, -0.2057), atol=5e-4)
    assert np.allclose(_pose(hand, "left_hand_thumb_rota_tip")[0], (0.1566, -0.0221, -0.0287), atol=1e-3)


def test_thumb_and_index_close_on_the_nut_at_its_initial_targets(hand) -> None:
    _set(hand, layout.init_targets_sdk("nut"))
    gap = np.linalg.norm(_pose(hand, "left_hand_index_rota_tip")[0] - _pose(hand, "left_hand_thumb_rota_tip")[0])
    assert gap == pytest.approx(0.037, abs=0.002)


def test_palm_normal_rule_of_a_left_hand(hand) -> None:
    """(index base - pinky base) x finger direction = -palm normal, the palm normal being where fingers curl."""
    _set(hand, np.zeros(12))
    index_base, pinky_base = _pose(hand, "left_hand_index_rota_link1")[0], _pose(hand, "left_hand_pinky_link1")[0]
    tip0 = _pose(hand, "left_hand_mid_tip")[0]
    finger = tip0 - _pose(hand, "left_hand_mid_link1")[0]
    q = np.zeros(12)
    q[joints.HAND_JOINT_NAMES.index("mid_j1")] = 0.3
    _set(hand, q)
    curl = _pose(hand, "left_hand_mid_tip")[0] - tip0
    side = np.cross(index_base - pinky_base, finger)
    assert np.dot(side, curl) < 0  # a right hand would give > 0
    assert np.allclose(side / np.linalg.norm(side), (0, 1, 0), atol=1e-6)  # palm normal -y of left_hand_link


def test_index_bend_abducts_about_minus_y_before_the_flexion_joint(hand) -> None:
    _set(hand, np.zeros(12))
    q = np.zeros(12)
    q[joints.HAND_JOINT_NAMES.index("index_bend")] = 0.17
    _set(hand, q)
    tip = _pose(hand, "left_hand_index_rota_tip")[0]
    lever = 0.2057 - 0.0899
    assert tip[0] == pytest.approx(0.0265 + lever * np.sin(0.17), abs=5e-4)  # about -y: the tip swings to +x


def test_pads_face_out_of_the_pad_side_of_their_links(hand) -> None:
    _set(hand, np.zeros(12))
    for distal, pad in zip(xhand_left.DISTAL_LINKS, xhand_left.PAD_LINKS, strict=True):
        _, r_link = _pose(hand, distal)
        _, r_pad = _pose(hand, pad)
        normal_in_link = r_link.T @ r_pad[:, 2]
        expected = (0, 0, -1) if "thumb" in distal else (0, -1, 0)
        assert np.allclose(normal_in_link, expected, atol=1e-6), distal
        along = r_link.T @ r_pad[:, 1]
        assert np.allclose(along, (1, 0, 0) if "thumb" in distal else (0, 0, -1), atol=1e-6), distal
    assert set(pads.PAD_FRAMES) == set(xhand_left.DISTAL_LINKS)


def _surface(hand, link: str, start: tuple, end: tuple) -> np.ndarray:
    """Where a ray from `start` to `end` (link frame) first hits the link, in the link frame."""
    c, body, _, ln = hand
    p, r = _pose(hand, link)
    hit = pb.rayTest((p + r @ start).tolist(), (p + r @ end).tolist(), physicsClientId=c)[0]
    assert hit[0] == body and hit[1] == ln[link], hit
    return r.T @ (np.array(hit[3]) - p)


def test_collision_shapes_are_the_flat_hulls_not_capsules(hand) -> None:
    _set(hand, np.zeros(12))
    d = "left_hand_index_rota_link2"
    face = [_surface(hand, d, (x, -0.05, -0.024), (x, 0, -0.024))[1] for x in (-0.005, 0.0, 0.005)]
    assert max(face) < -0.0085 and np.ptp(face) < 0.0015, face  # a flat pad on -y (a capsule: 3.5 mm curve)
    t = "left_hand_thumb_rota_link2"
    width = _surface(hand, t, (0.03, 0.05, 0), (0.03, 0, 0))[1] - _surface(hand, t, (0.03, -0.05, 0), (0.03, 0, 0))[1]
    assert 0.025 < width < 0.036, width  # thumb distal up to 34 mm wide


def test_masses_and_inertias_come_from_the_file(hand) -> None:
    c, body, _, ln = hand
    masses = [pb.getDynamicsInfo(body, j, physicsClientId=c)[0] for j in ln.values()]
    assert sum(masses) + 0.5391 == pytest.approx(xhand_left.TOTAL_MASS_KG, abs=1e-3)  # fixed base reports 0
    info = pb.getDynamicsInfo(body, ln["left_hand_thumb_rota_link1"], physicsClientId=c)
    assert info[0] == pytest.approx(0.1327) and np.allclose(info[2], (1.70e-5, 3.59e-5, 4.28e-5))


def test_no_self_collision_within_the_hand(hand) -> None:
    c, body, _, _ = hand
    _set(hand, layout.init_targets_sdk("nut"))  # the authors' index/middle distals overlap here
    pb.performCollisionDetection(physicsClientId=c)
    assert pb.getContactPoints(bodyA=body, bodyB=body, physicsClientId=c) == ()


def test_real_cell_tcp_and_payload_use_the_model_mount(hand) -> None:
    path = next(p for p in (ROOT / "dexscrew_sdk" / "configs", ROOT / "configs") if (p / "real_cell.toml").is_file())
    arm = tomllib.loads((path / "real_cell.toml").read_text())["nodes"]["arm"]["params"]
    r = np.array(pb.getMatrixFromQuaternion(pb.getQuaternionFromEuler(xhand_left.MOUNT_RPY_RAD))).reshape(3, 3)
    rotvec = np.array(arm["tcp"][3:])
    angle = np.linalg.norm(rotvec)
    k = rotvec / angle
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    assert np.allclose(np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx, r, atol=1e-3)
    assert np.allclose(arm["tcp"][:3], np.array(xhand_left.MOUNT_XYZ_M) + r @ (0, 0, -0.065), atol=1e-4)
    assert arm["payload_kg"] == pytest.approx(xhand_left.TOTAL_MASS_KG, abs=0.01)
    c, body, _, ln = hand
    _set(hand, np.zeros(12))
    com = 0.5391 * np.array(xhand_left.INERTIALS[xhand_left.PALM_LINK].com_m)
    for j in ln.values():
        com = com + pb.getDynamicsInfo(body, j, physicsClientId=c)[0] * np.array(
            pb.getLinkState(body, j, computeForwardKinematics=1, physicsClientId=c)[0]
        )
    com_flange = np.array(xhand_left.MOUNT_XYZ_M) + r @ (com / xhand_left.TOTAL_MASS_KG)
    assert np.allclose(arm["payload_cog_m"], com_flange, atol=1e-3)


def test_link_names_of_the_recipe_are_the_models() -> None:
    x = xhand_left
    assert (x.THUMB_LINKS[1], *(x.finger_links(f)[1] for f in x.FINGERS)) == x.DISTAL_LINKS
    assert (x.THUMB_LINKS[2], *(x.finger_links(f)[2] for f in x.FINGERS)) == x.TIP_LINKS
