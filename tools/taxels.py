"""Names of taxels and pads in operator reports: `index taxel 17 (row 1, col 5)`."""

from __future__ import annotations

import numpy as np

from dexscrew_sdk import joints

ROWS, COLS = joints.TAXEL_GRID


def taxel_name(pad: int, taxel: int) -> str:
    row, col = divmod(int(taxel), COLS)
    return f"{joints.FINGERTIP_NAMES[pad]} taxel {int(taxel)} (row {row}, col {col})"


def name_taxels(mask: np.ndarray, values: np.ndarray | None = None, unit: str = "N", limit: int = 12) -> str:
    """A (5, 120) boolean mask as a readable list, with each taxel's value if given; long lists are cut."""
    found = np.argwhere(mask)
    parts = [taxel_name(p, t) + ("" if values is None else f" {values[p, t]:.3f} {unit}") for p, t in found[:limit]]
    if len(found) > limit:
        parts.append(f"and {len(found) - limit} more")
    return ", ".join(parts)
