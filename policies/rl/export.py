"""Export a student checkpoint (distilled or fine-tuned) as a self-contained TorchScript skill plus metadata JSON."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from policies.rl import checkpoint
from policies.rl.config import ModelConfig
from policies.rl.models import ActorCritic, HistoryEncoder, StudentPolicy
from policies.rl.sdk import joints, layout

SKILL_FORMAT = "dexscrew-skill/1"


class SkillModule(nn.Module):
    """forward(obs (B,72), proprio_hist (B,T,24)) -> action (B,12) in [-1, 1]; normalisation inside."""

    def __init__(self, student: StudentPolicy) -> None:
        super().__init__()
        self.student = student

    def forward(self, obs: torch.Tensor, proprio_hist: torch.Tensor) -> torch.Tensor:
        mu, _ = self.student(obs, proprio_hist)
        return mu.clamp(-1.0, 1.0)


def student_from_checkpoint(data: dict[str, Any]) -> StudentPolicy:
    lay = data["layout"]
    m = ModelConfig(**{k: v for k, v in data["config"]["model"].items()})
    teacher = ActorCritic(
        lay["obs_dim"], lay["priv_dim"], lay["act_dim"], m.actor_hidden, m.priv_hidden, m.latent_dim, m.init_log_std
    )
    student = StudentPolicy(teacher, HistoryEncoder(lay["frame_dim"], lay["hist_len"], m.latent_dim))
    student.load_state_dict(data["algo"]["student"])
    return student.eval()


def metadata(data: dict[str, Any], sha256: str) -> dict[str, Any]:
    """The skill's metadata: obs layout, joint order, action scale, masks, limits, initial targets."""
    task, lay = data["layout"]["task"], data["layout"]
    lo, hi = layout.limits_sdk(joints.XHAND_LOWER_RAD, joints.XHAND_UPPER_RAD)
    init = np.asarray(data.get("initial_targets_rad", layout.init_targets_sdk(task))).clip(lo, hi)
    names = list(joints.HAND_JOINT_NAMES)
    return {
        "format": SKILL_FORMAT,
        "task": task,
        "joint_order": names,
        "control_hz": layout.CONTROL_HZ,
        "action_scale": layout.TRAIN_ACTION_SCALE[task],
        "masked_joints": [names[i] for i in range(len(names)) if layout.mask_sdk(task)[i]],
        "lower_rad": [float(x) for x in lo],
        "upper_rad": [float(x) for x in hi],
        "initial_targets_rad": [float(x) for x in init],
        "history_fill_rad": [float(x) for x in list(init) + list(init)],
        "obs_layout": {
            "frame": ["q_rad[12]", "target_rad[12]"],
            "frame_dim": lay["frame_dim"],
            "obs_frames": layout.OBS_FRAMES,
            "obs_dim": lay["obs_dim"],
            "hist_len": lay["hist_len"],
            "order": "oldest first",
            "inputs": {"obs": ["B", lay["obs_dim"]], "proprio_hist": ["B", lay["hist_len"], lay["frame_dim"]]},
            "output": "action (B, 12) in [-1, 1]; target = clip(previous target + action_scale * action)",
        },
        "training": {
            "iterations": int(data["iteration"]),
            "env_steps": int(data["env_steps"]),
            "seed": int(data["config"]["seed"]),
            "backend": data["config"]["backend"],
            "torques": "clamped" if data["config"].get("clamp_torques", True) else "unclamped",
            "teacher": data.get("teacher_source") or {"kind": "teacher"},
        },
        "sha256": sha256,
    }


def export_skill(ckpt_path: Path, out_dir: Path) -> Path:
    """Write out_dir/skill.pt (TorchScript) and out_dir/skill.json; returns the .pt path."""
    data = checkpoint.load(Path(ckpt_path), ("student", "finetune"), {})
    expected = {
        "obs_dim": layout.OBS_DIM,
        "frame_dim": layout.FRAME_DIM,
        "act_dim": layout.DOF,
        "joint_order": list(joints.HAND_JOINT_NAMES),
    }
    checkpoint.check_layout(data["layout"], expected, str(ckpt_path))
    try:
        layout.check_task(data["layout"].get("task"))
    except ValueError as exc:
        raise checkpoint.CheckpointError(f"{ckpt_path}: {exc}") from None
    module = SkillModule(student_from_checkpoint(data))
    example = (torch.zeros(1, layout.OBS_DIM), torch.zeros(1, data["layout"]["hist_len"], layout.FRAME_DIM))
    with torch.no_grad():
        scripted = torch.jit.trace(module, example)
    out_dir.mkdir(parents=True, exist_ok=True)
    pt = out_dir / "skill.pt"
    scripted.save(str(pt))
    digest = hashlib.sha256(pt.read_bytes()).hexdigest()
    (out_dir / "skill.json").write_text(json.dumps(metadata(data, digest), indent=2) + "\n")
    return pt
