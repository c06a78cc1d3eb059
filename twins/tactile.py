"""Fingertip touch from PyBullet contacts: 5 pads x (10 x 12 taxels) x (fx, fy, fz) newtons.

The layout is joints.py's (an assumption shared with the XHand driver): taxels
row-major, 10 rows across the pad and 12 columns along the finger, forces
(across, along, normal). Each contact on a distal link is expressed in that
finger's pad frame (twins.pads: +z out of the pad, +y along the finger to the
tip, +x across): fz is the contact's normal force (pressing = positive, also
when the rounded tip end touches), fx and fy the total force's components across
and along the pad, spread over the neighbouring taxels with a Gaussian
footprint. Noise, the 0.05 N detection threshold and saturation follow the real
sensor.
"""

from __future__ import annotations

import numpy as np
import pybullet as pb

from dexscrew_sdk import joints
from twins.bullet import HandModel
from twins.pads import PAD_ACROSS_M, PAD_ALONG_M

SATURATION_N = 8.0
FOOTPRINT_TAXELS = 1.0  # Gaussian sigma of one contact's spread


class TaxelModel:
    def __init__(self, hand: HandModel, seed: int = 0, noise_n: float = 0.01) -> None:
        self.hand = hand
        self.noise_n = noise_n
        self.rng = np.random.default_rng(seed)
        rows, cols = joints.TAXEL_GRID
        self._r, self._c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")

    def _spread(self, row: float, col: float) -> np.ndarray:
        w = np.exp(-((self._r - row) ** 2 + (self._c - col) ** 2) / (2 * FOOTPRINT_TAXELS**2))
        return (w / w.sum()).reshape(-1)

    def frame(self, obj: int) -> np.ndarray:
        """One (5, 120, 3) float32 frame from the contacts of the last physics step."""
        rows, cols = joints.TAXEL_GRID
        force = np.zeros(joints.TACTILE_SHAPE)
        c, body = self.hand.client, self.hand.body
        pads = pb.getLinkStates(body, self.hand.tip_ids, computeForwardKinematics=1, physicsClientId=c)
        for tip, (link, pad) in enumerate(zip(self.hand.distal_ids, pads, strict=True)):
            contacts = pb.getContactPoints(bodyA=body, bodyB=obj, linkIndexA=link, physicsClientId=c)
            if not contacts:
                continue
            rot = np.array(pb.getMatrixFromQuaternion(pad[5])).reshape(3, 3)
            origin = np.array(pad[4])
            for ct in contacts:
                local = rot.T @ (np.array(ct[5]) - origin)
                # contact normal on B points from the object to the finger: the force on the pad
                f_world = ct[9] * np.array(ct[7]) + ct[10] * np.array(ct[11]) + ct[12] * np.array(ct[13])
                f_pad = rot.T @ f_world  # shears from the pad-plane components; pressure = the normal force
                row = np.clip((local[0] / PAD_ACROSS_M + 0.5) * rows - 0.5, 0, rows - 1)
                col = np.clip((local[1] / PAD_ALONG_M + 0.5) * cols - 0.5, 0, cols - 1)
                w = self._spread(row, col)[:, None]
                force[tip] += w * np.array([f_pad[0], f_pad[1], ct[9]])[None, :]
        force += self.rng.normal(0.0, self.noise_n, force.shape)
        force[np.abs(force) < joints.TACTILE_THRESHOLD_N] = 0.0
        return np.clip(force, -SATURATION_N, SATURATION_N).astype(np.float32)


def frame_to_image(force: np.ndarray, scale: int = 8) -> np.ndarray:
    """An RGB picture of a frame: five pads side by side, red = normal force, green/blue = shears."""
    rows, cols = joints.TAXEL_GRID
    pads = force.reshape(5, rows, cols, 3)
    norm = np.clip(np.abs(pads) / max(1e-6, float(np.abs(pads).max())), 0, 1)
    rgb = np.stack([norm[..., 2], norm[..., 0], norm[..., 1]], axis=-1)
    gap = np.ones((rows, 1, 3)) * 0.3
    tiles = [t for p in rgb for t in (p, gap)][:-1]
    row = np.concatenate(tiles, axis=1)
    img = np.kron(row, np.ones((scale, scale, 1)))
    return (img * 255).astype(np.uint8)
