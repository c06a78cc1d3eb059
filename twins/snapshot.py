"""Pictures of the twin: scene PNGs from a few viewpoints (Scene.render, no display) and a tactile frame."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from twins.bullet import official_init_canonical
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


def snapshot(
    out: Path, task: str = "nut", shape: str = "triangular", seed: int = 0, settle_s: float = 1.0
) -> list[Path]:
    """Reset a twin, hold the initial grasp for settle_s, write one PNG per view and a tactile PNG."""
    out.mkdir(parents=True, exist_ok=True)
    cell = TwinCell()
    try:
        cell.world.reset(task, shape, seed)
        cell.hand.command(official_init_canonical(task))
        cell.advance(settle_s)
        paths = []
        for name, (yaw, pitch) in VIEWS.items():
            paths.append(out / f"twin_{task}_{shape}_{name}.png")
            write_png(paths[-1], cell.scene.render(yaw, pitch))
        paths.append(out / f"twin_{task}_{shape}_tactile.png")
        write_png(paths[-1], frame_to_image(cell.tactile.frame().force_n))
        return paths
    finally:
        cell.close()
