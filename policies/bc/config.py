"""Model configuration and presets (no torch: the command line reads them without importing it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from policies.bc.layout import JOINT_DIM, TACTILE_DIM, BCError


@dataclass(frozen=True)
class ModelConfig:
    joint_mlp: tuple[int, ...] = (64, 64)  # hidden..., feature size (last)
    tactile_mlp: tuple[int, ...] = (128, 64)
    down_dims: tuple[int, ...] = (32, 64, 128)  # U-Net channels per level; H halves between levels
    token_dim: int = 32  # conditioning -> (token_dim, H) before the U-Net (the paper: the whole feature size)
    kernel: int = 5
    groups: int = 8
    joint_dim: int = JOINT_DIM
    tactile_dim: int = TACTILE_DIM
    action_dim: int = JOINT_DIM
    history: int = 5
    horizon: int = 16
    use_touch: bool = True

    def __post_init__(self) -> None:
        levels = len(self.down_dims)
        if levels < 1 or self.horizon % (2 ** (levels - 1)):
            raise BCError(f"horizon {self.horizon} must be divisible by 2^{levels - 1} for down_dims {self.down_dims}")
        bad = [c for c in (*self.down_dims, self.token_dim) if c % self.groups]
        if bad:
            raise BCError(f"channel counts {bad} are not divisible by GroupNorm groups {self.groups}")
        if self.kernel % 2 == 0:
            raise BCError(f"kernel must be odd (same-length convolutions), got {self.kernel}")

    @property
    def feature_dim(self) -> int:
        """Per-step feature size: joint features (+ tactile features)."""
        return self.joint_mlp[-1] + (self.tactile_mlp[-1] if self.use_touch else 0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        d = dict(d)
        for key in ("joint_mlp", "tactile_mlp", "down_dims"):
            d[key] = tuple(d[key])
        return cls(**d)


# The paper's sizes (method.md): modality MLPs 256-256-64, U-Net 256/512/1024, the whole
# K-step feature projected to H tokens of its own size (the authors' Linear(cond, cond * H)).
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},  # CPU-sized: 1.56 M parameters with touch and K = 5 (test_model pins it)
    "paper": {
        "joint_mlp": (256, 256, 64),
        "tactile_mlp": (256, 256, 64),
        "down_dims": (256, 512, 1024),
        "token_dim": 0,
    },
}


def preset(name: str, **overrides: Any) -> ModelConfig:
    """A preset's config; token_dim 0 means "the K-step feature size" (the paper's choice)."""
    if name not in PRESETS:
        raise BCError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    kw = {**PRESETS[name], **overrides}
    if kw.get("token_dim") == 0:
        use_touch = kw.get("use_touch", True)
        jm, tm = kw.get("joint_mlp", ModelConfig.joint_mlp), kw.get("tactile_mlp", ModelConfig.tactile_mlp)
        kw["token_dim"] = (jm[-1] + (tm[-1] if use_touch else 0)) * kw.get("history", 5)
    return ModelConfig(**kw)
