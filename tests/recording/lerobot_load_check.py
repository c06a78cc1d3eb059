"""Load an exported dataset with LeRobot's own dataset class (opt-in; run in LeRobot's virtualenv).

    python3 -m venv /tmp/lerobot-venv
    /tmp/lerobot-venv/bin/pip install torch==2.14.1 torchvision==0.29.1
    /tmp/lerobot-venv/bin/pip install --no-deps lerobot==0.4.4
    /tmp/lerobot-venv/bin/pip install "datasets>=4,<5" "huggingface-hub<0.36" jsonlines draccus==0.10.0 \
        einops av termcolor deepdiff gymnasium pillow accelerate pyarrow pandas
    dexscrew dataset export DATASET OUT
    /tmp/lerobot-venv/bin/python tests/recording/lerobot_load_check.py OUT

Prints one JSON object: what LeRobot read back, and the checks it passed.
tests/recording/test_lerobot_loader.py runs it when DEXSCREW_LEROBOT_PYTHON names that interpreter.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset


def main(root: Path) -> dict:
    ds = LeRobotDataset("local/dexscrew_export", root=root)
    info = json.loads((root / "meta" / "info.json").read_text())
    first, last = ds[0], ds[len(ds) - 1]
    assert len(ds) == info["total_frames"], (len(ds), info["total_frames"])
    assert ds.num_episodes == info["total_episodes"]
    assert tuple(first["observation.tactile"].shape) == (5, 120, 3), first["observation.tactile"].shape
    assert tuple(first["action"].shape) == (18,)
    ts = np.asarray(ds.hf_dataset["timestamp"], dtype=np.float64)
    windows = LeRobotDataset("local/dexscrew_export", root=root, delta_timestamps={"action": [0.0, 0.05, 0.1]})
    chunk = windows[5]["action"]
    assert tuple(chunk.shape) == (3, 18), chunk.shape
    return {
        "lerobot_class": f"{type(ds).__module__}.{type(ds).__name__}",
        "codebase_version": ds.meta.info["codebase_version"],
        "fps": ds.fps,
        "num_episodes": ds.num_episodes,
        "num_frames": len(ds),
        "features": {k: list(v["shape"]) for k, v in ds.features.items()},
        "tasks": list(ds.meta.tasks.index),
        "first_frame": {
            "task": first["task"],
            "episode_index": int(first["episode_index"]),
            "timestamp": float(first["timestamp"]),
            "action[:3]": [round(float(x), 4) for x in first["action"][:3]],
            "observation.tactile.shape": list(first["observation.tactile"].shape),
        },
        "last_frame_index": int(last["index"]),
        "timestamps_measured_max_dev_from_grid_s": float(
            np.abs(ts - np.asarray(ds.hf_dataset["frame_index"]) / ds.fps).max()
        ),
        "action_window_shape_with_delta_timestamps": list(chunk.shape),
        "stats_keys": sorted(ds.meta.stats)[:8],
        "ok": True,
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
