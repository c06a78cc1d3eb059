"""Pictures of the twin: scene PNGs from a few viewpoints (TinyRenderer, no display) and a tactile frame."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pybullet as pb

from twins.cell import TwinCell
from twins.tactile import frame_to_image

VIEWS = {"front": (0.0, -20.0), "side": (90.0, -25.0), "top": (0.0, -80.0)}  # yaw, pitch [deg]


def write_png(path: Path, rgb: np.ndarray) -> None:
    """A minimal PNG encoder (8-bit RGB), so pictures need no imaging library."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].astype(np.uint8).tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    path.write_bytes(png)


def render(cell: TwinCell, yaw: float, pitch: float, size: tuple[int, int] = (480, 360)) -> np.ndarray:
    s = cell.scene
    target = pb.getLinkState(s.obj, 1, physicsClientId=s.client)[4]
    view = pb.computeViewMatrixFromYawPitchRoll(target, 0.35, yaw, pitch, 0, 2, physicsClientId=s.client)
    proj = pb.computeProjectionMatrixFOV(50, size[0] / size[1], 0.01, 5.0, physicsClientId=s.client)
    _, _, rgba, _, _ = pb.getCameraImage(
        size[0], size[1], view, proj, renderer=pb.ER_TINY_RENDERER, physicsClientId=s.client
    )
    return np.asarray(rgba, dtype=np.uint8).reshape(size[1], size[0], 4)[:, :, :3]


def snapshot(
    out: Path, task: str = "nut", shape: str = "triangular", seed: int = 0, settle_s: float = 1.0
) -> list[Path]:
    """Reset a twin, hold the initial grasp for settle_s, write one PNG per view and a tactile PNG."""
    out.mkdir(parents=True, exist_ok=True)
    cell = TwinCell()
    try:
        cell.world.reset(task, shape, seed)
        cell.hand.command(cell.hand.q.copy())
        cell.advance(settle_s)
        paths = []
        for name, (yaw, pitch) in VIEWS.items():
            paths.append(out / f"twin_{task}_{shape}_{name}.png")
            write_png(paths[-1], render(cell, yaw, pitch))
        paths.append(out / f"twin_{task}_{shape}_tactile.png")
        write_png(paths[-1], frame_to_image(cell.tactile.frame().force_n))
        return paths
    finally:
        cell.close()
