"""Loading skill policies: this SDK's exported skills and the authors' released checkpoints.

Both are wrapped into one adaptor that maps canonical-order observation frames
to a canonical-order action in [-1, 1]^12. torch is imported here, lazily.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dexscrew_sdk import joints
from dexscrew_sdk.errors import SkillError
from dexscrew_sdk.skills import layout

SKILL_FORMAT = "dexscrew-skill/1"
METADATA_KEYS = (
    "format",
    "task",
    "joint_order",
    "control_hz",
    "action_scale",
    "masked_joints",
    "lower_rad",
    "upper_rad",
    "initial_targets_rad",
    "history_fill_rad",
    "obs_layout",
    "sha256",
)


@dataclass
class SkillMetadata:
    """Everything needed to run a skill, canonical joint order."""

    task: str
    source: str  # "dexscrew" (exported by this SDK) or "official" (authors' release)
    action_scale: float
    mask: np.ndarray  # (12,) bool, joints whose action is forced to zero
    lower_rad: np.ndarray
    upper_rad: np.ndarray
    initial_targets_rad: np.ndarray
    history_fill: np.ndarray  # (24,) frame the history starts filled with: [q (12), target (12)]
    control_hz: float = layout.CONTROL_HZ
    hist_len: int = layout.HIST_LEN


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


MAX_HIST_LEN = 1000  # 50 s of history at 20 Hz; 1e12 once asked for 175 TiB
MAX_CONTROL_HZ = 1000.0


@dataclass
class ObsLayoutFile:
    """`obs_layout` of skill.json; the descriptive keys (frame, order, inputs, output) are documentation."""

    obs_dim: int
    frame_dim: int
    obs_frames: int
    hist_len: int = layout.HIST_LEN
    frame: list[str] | None = None
    order: str | None = None
    inputs: dict[str, Any] | None = None
    output: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.hist_len <= MAX_HIST_LEN:
            raise ValueError(f"hist_len must be in [1, {MAX_HIST_LEN}], got {self.hist_len}")


@dataclass
class SkillFile:
    """skill.json as written by `dexscrew export-skill`; every field typed and range-checked on load."""

    format: str
    task: str
    joint_order: list[str]
    control_hz: float
    action_scale: float
    masked_joints: list[str]
    lower_rad: list[float]
    upper_rad: list[float]
    initial_targets_rad: list[float]
    history_fill_rad: list[float]
    obs_layout: ObsLayoutFile
    sha256: str
    training: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not (0 < self.control_hz <= MAX_CONTROL_HZ):
            raise ValueError(f"control_hz must be in (0, {MAX_CONTROL_HZ:g}], got {self.control_hz}")
        if not (0 < self.action_scale <= 1.0):  # rad per unit action per step; a negative scale inverts the skill
            raise ValueError(f"action_scale must be in (0, 1] rad, got {self.action_scale}")
        for key in ("lower_rad", "upper_rad", "initial_targets_rad"):
            v = getattr(self, key)
            if len(v) != joints.HAND_DOF or not np.isfinite(v).all():
                raise ValueError(f"{key} must be {joints.HAND_DOF} finite numbers, got {v!r}")
        if len(self.history_fill_rad) != layout.FRAME_DIM or not np.isfinite(self.history_fill_rad).all():
            raise ValueError(f"history_fill_rad must be {layout.FRAME_DIM} finite numbers")
        if (np.asarray(self.lower_rad) > np.asarray(self.upper_rad)).any():
            raise ValueError("lower_rad exceeds upper_rad")


def read_metadata(json_path: Path, model_path: Path) -> tuple[SkillMetadata, list[int]]:
    """Parse and validate an exported skill's metadata; errors name the field that is wrong."""
    from dexscrew_sdk import params as params_mod
    from dexscrew_sdk.errors import ConfigError

    if not json_path.is_file():
        raise SkillError(f"skill metadata {json_path} is missing (export writes it next to {model_path.name})")
    try:
        raw = json.loads(json_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SkillError(f"{json_path}: not valid JSON ({exc})") from None
    if isinstance(raw, dict):
        missing = [k for k in METADATA_KEYS if k not in raw]
        if missing:
            raise SkillError(f"{json_path}: missing fields {missing}")
        if raw["format"] != SKILL_FORMAT:
            raise SkillError(f"{json_path}: format {raw['format']!r}, this SDK reads {SKILL_FORMAT!r}")
    try:
        meta: SkillFile = params_mod.load(SkillFile, raw, "skill.json")
    except ConfigError as exc:
        raise SkillError(f"{json_path}: {exc}") from None
    order = meta.joint_order
    if sorted(order) != sorted(joints.HAND_JOINT_NAMES):
        unknown = sorted(set(order) ^ set(joints.HAND_JOINT_NAMES))
        raise SkillError(f"{json_path}: joint_order does not match the hand's joints (differs in {unknown})")
    obs = meta.obs_layout
    want = {"obs_dim": layout.OBS_DIM, "frame_dim": layout.FRAME_DIM, "obs_frames": layout.OBS_FRAMES}
    diffs = [f"{k}={getattr(obs, k)!r} (expected {v})" for k, v in want.items() if getattr(obs, k) != v]
    if diffs:
        raise SkillError(f"{json_path}: obs_layout differs: {', '.join(diffs)}")
    digest = sha256_of(model_path)
    if digest != meta.sha256:
        raise SkillError(
            f"{json_path} does not belong to {model_path.name}: sha256 {digest[:12]} != {meta.sha256[:12]}"
        )
    perm = [order.index(n) for n in joints.HAND_JOINT_NAMES]  # canonical[i] = skill[perm[i]]
    unknown_masked = set(meta.masked_joints) - set(order)
    if unknown_masked:
        raise SkillError(f"{json_path}: masked_joints names unknown joints {sorted(unknown_masked)}")
    fill = np.asarray(meta.history_fill_rad, dtype=np.float64)
    return SkillMetadata(
        task=layout.check_task(meta.task),
        source="dexscrew",
        action_scale=meta.action_scale,
        mask=np.array([n in meta.masked_joints for n in joints.HAND_JOINT_NAMES]),
        lower_rad=np.asarray(meta.lower_rad)[perm],
        upper_rad=np.asarray(meta.upper_rad)[perm],
        initial_targets_rad=np.asarray(meta.initial_targets_rad)[perm],
        history_fill=np.concatenate([fill[:12][perm], fill[12:][perm]]),
        control_hz=meta.control_hz,
        hist_len=obs.hist_len,
    ), perm


NUMPY_TOLERANCE = 1e-5  # largest action difference (of 1) for which the numpy evaluator replaces torch


class ExportedPolicy:
    """TorchScript `forward(obs (B,72), proprio_hist (B,T,24)) -> action (B,12)`, normalisation inside.

    Runs the module's graph in numpy (numpy_graph.py) when it can, which a control step pays for about
    two thirds of what it pays for a torch call; `load_policy` keeps torch when the two disagree by more than
    NUMPY_TOLERANCE on probe inputs, or when `backend="torch"`."""

    def __init__(self, module: Any, perm: list[int]) -> None:
        import torch

        self._torch, self.module = torch, module
        self._to_skill = perm  # canonical[i] = skill[perm[i]] -> skill[j] = canonical[inv[j]]
        self._inv = [perm.index(j) for j in range(len(perm))]
        self._idx = self._inv + [12 + i for i in self._inv]
        self.program: Any = None  # the numpy evaluator of the module, when in use
        self.backend = "torch"

    def _reorder_frames(self, frames: np.ndarray) -> np.ndarray:
        return frames[..., self._idx]

    def run_torch(self, obs_frames: np.ndarray, hist: np.ndarray) -> np.ndarray:
        t = self._torch
        with t.no_grad():
            obs = t.as_tensor(self._reorder_frames(obs_frames).reshape(1, -1), dtype=t.float32)
            h = t.as_tensor(self._reorder_frames(hist)[None], dtype=t.float32)
            a = self.module(obs, h)[0].double().numpy()
        return a[self._to_skill]

    def run_numpy(self, obs_frames: np.ndarray, hist: np.ndarray) -> np.ndarray:
        obs = self._reorder_frames(obs_frames).reshape(1, -1).astype(np.float32)
        h = self._reorder_frames(hist)[None].astype(np.float32)
        return self.program(obs, h)[0].astype(np.float64)[self._to_skill]

    def use_numpy(self, probes: list[tuple[np.ndarray, np.ndarray]]) -> float | None:
        """Switch to the numpy evaluator if it compiles and matches torch on `probes` within
        NUMPY_TOLERANCE; returns the largest difference seen (None: the graph is not supported)."""
        from dexscrew_sdk.skills.numpy_graph import Unsupported, compile_graph

        try:
            self.program = compile_graph(self.module)
            gap = max(float(np.max(np.abs(self.run_numpy(o, h) - self.run_torch(o, h)))) for o, h in probes)
        except (Unsupported, ValueError):
            self.program = None
            return None
        if not gap <= NUMPY_TOLERANCE:
            self.program = None
        self.backend = "numpy" if self.program is not None else "torch"
        return gap

    def __call__(self, obs_frames: np.ndarray, hist: np.ndarray) -> np.ndarray:
        if self.program is not None:
            return self.run_numpy(obs_frames, hist)
        return self.run_torch(obs_frames, hist)


class OfficialPolicy:
    """The authors' released student: policy joint order, 96-wide padded obs, stats as attributes."""

    def __init__(self, module: Any, where: Path) -> None:
        import torch

        self._torch, self.module = torch, module
        try:
            self.obs_mean = module.running_mean.detach().double().numpy()
            self.obs_var = module.running_var.detach().double().numpy()
            self.hist_mean = module.sa_mean.detach().double().numpy()
            self.hist_var = module.sa_var.detach().double().numpy()
        except AttributeError as exc:
            raise SkillError(f"{where}: not a released DexScrew checkpoint (no normalisation stats: {exc})") from None
        if self.obs_mean.shape != (layout.OFFICIAL_OBS_PAD,) or self.hist_mean.shape != (layout.HIST_LEN, 24):
            raise SkillError(
                f"{where}: normalisation stats have shapes {self.obs_mean.shape} and {self.hist_mean.shape}, "
                f"expected ({layout.OFFICIAL_OBS_PAD},) and ({layout.HIST_LEN}, 24)"
            )
        self._pol = list(layout.POLICY_FROM_SDK)

    def __call__(self, obs_frames: np.ndarray, hist: np.ndarray) -> np.ndarray:
        t, p = self._torch, self._pol
        frames = np.concatenate([obs_frames[:, :12][:, p], obs_frames[:, 12:][:, p]], -1)
        hist_p = np.concatenate([hist[:, :12][:, p], hist[:, 12:][:, p]], -1)
        obs = np.zeros(layout.OFFICIAL_OBS_PAD)
        obs[: layout.OBS_DIM] = np.clip(frames.reshape(-1), -5.0, 5.0)
        obs = np.clip((obs - self.obs_mean) / np.sqrt(self.obs_var + 1e-5), -5.0, 5.0)
        hist_n = np.clip((hist_p - self.hist_mean) / np.sqrt(self.hist_var + 1e-5), -5.0, 5.0)
        inputs = {
            "obs": t.as_tensor(obs[None], dtype=t.float32),
            "proprio_hist": t.as_tensor(hist_n[None], dtype=t.float32),
            "point_cloud_info": t.zeros(1, 100, 3),
        }
        with t.no_grad():
            mu = self.module(inputs)[0][0].double().numpy()
        return layout.to_sdk(np.clip(mu, -1.0, 1.0))


def official_metadata(task: str, hand_lower: np.ndarray, hand_upper: np.ndarray) -> SkillMetadata:
    lo, hi = layout.limits_sdk(hand_lower, hand_upper)
    fill = layout.to_sdk(layout.OFFICIAL_HIST_FILL_POLICY)
    return SkillMetadata(
        task=task,
        source="official",
        action_scale=layout.OFFICIAL_ACTION_SCALE,
        mask=layout.mask_sdk(task),
        lower_rad=lo,
        upper_rad=hi,
        initial_targets_rad=np.clip(layout.init_targets_sdk(task), lo, hi),
        history_fill=np.concatenate([fill, fill]),
    )


BACKENDS = ("auto", "torch")


def _probes(meta: SkillMetadata, n: int = 8) -> list[tuple[np.ndarray, np.ndarray]]:
    """Observation histories around the skill's own start frame and across its joint range (seeded)."""
    rng = np.random.default_rng(0)
    lo = np.concatenate([meta.lower_rad, meta.lower_rad])
    hi = np.concatenate([meta.upper_rad, meta.upper_rad])
    out = []
    for i in range(n):
        hist = np.tile(meta.history_fill, (meta.hist_len, 1))
        if i:
            hist = rng.uniform(lo, hi, size=hist.shape) if i % 2 else hist + rng.normal(0.0, 0.05, hist.shape)
        out.append((hist[-layout.OBS_FRAMES :], hist))
    return out


def load_policy(path: Path, backend: str = "auto") -> tuple[Any, SkillMetadata]:
    """(policy adaptor, metadata) for an exported skill (folder or .pt) or a released checkpoint.

    backend="auto": an exported skill runs in numpy when its graph allows it and both agree on probe
    inputs (ExportedPolicy); "torch": always under torch (the released checkpoints always are)."""
    if backend not in BACKENDS:
        raise SkillError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    import torch

    # The skill nets are small: extra intra-op threads only contend with the simulation and the
    # control loop for the cores (one policy call took 100x longer with the default threads).
    torch.set_num_threads(1)
    path = Path(path)
    if path.is_dir():
        path = path / "skill.pt"
    if not path.is_file():
        raise SkillError(f"skill file {path} does not exist")
    official_task = {v: k for k, v in layout.OFFICIAL_FILES.items()}.get(path.name)
    json_path = path.with_suffix(".json")
    try:
        module = torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as exc:  # torch raises RuntimeError/ValueError with long messages
        raise SkillError(f"{path}: not a TorchScript skill ({str(exc).splitlines()[0]})") from None
    if official_task is not None and not json_path.exists():
        meta = official_metadata(official_task, joints.XHAND_LOWER_RAD, joints.XHAND_UPPER_RAD)
        return OfficialPolicy(module, path), meta
    meta, perm = read_metadata(json_path, path)
    policy = ExportedPolicy(module, perm)
    probe = policy(np.zeros((layout.OBS_FRAMES, layout.FRAME_DIM)), np.zeros((meta.hist_len, layout.FRAME_DIM)))
    if probe.shape != (joints.HAND_DOF,):
        raise SkillError(f"{path}: the model returns {probe.shape} actions, the metadata describes 12 joints")
    if backend == "auto":
        policy.use_numpy(_probes(meta))
    return policy, meta
