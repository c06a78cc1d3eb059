"""Pick a skill among a run's checkpoints on selection seeds (never the training or evaluation ones).

    python -m policies.rl.select --task nut --run runs/left_nut_finetune --every 100 --seeds 10001 10002 10003 10004

Each chosen checkpoint is exported to a temporary skill and evaluated through the
skill runtime (policies.rl.evaluate, method.md termination, randomised scenes);
prints one JSON line per checkpoint, then the best one (most episodes >= 1 rad/s,
then the highest mean rate) as the last line.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path

from tqdm import tqdm


def checkpoints(run: Path, every: int) -> list[Path]:
    numbered = sorted(run.glob("checkpoint_[0-9]*.pt"), key=lambda p: int(re.findall(r"\d+", p.stem)[0]))
    chosen = [p for p in numbered if int(re.findall(r"\d+", p.stem)[0]) % every == 0]
    if not chosen and not (run / "checkpoint_last.pt").is_file():
        raise FileNotFoundError(f"{run} holds no checkpoint_<n>.pt, n a multiple of {every}, nor checkpoint_last.pt")
    return chosen + [run / "checkpoint_last.pt"] * (run / "checkpoint_last.pt").is_file()


def score(ckpt: Path, task: str, seeds: list[int], episodes: int, seconds: float) -> dict:
    from dexscrew_sdk.skills import Skill
    from policies.rl.evaluate import evaluate, trained_clamped
    from policies.rl.export import export_skill

    with tempfile.TemporaryDirectory() as tmp:
        export_skill(ckpt, Path(tmp))
        clamped = trained_clamped(Path(tmp))  # judged in the torque setting it was trained in
        rates, ok = [], 0
        for seed in seeds:
            s = evaluate(lambda: Skill.load(tmp), task, episodes, seconds, seed=seed, clamp_torques=clamped).summary()
            rates.append(s["rad_per_s"])
            ok += s["episodes_meeting_target"]
    return {
        "checkpoint": str(ckpt),
        "episodes_at_target": ok,
        "episodes": episodes * len(seeds),
        "rad_per_s": round(sum(rates) / len(rates), 3),
        "seeds": seeds,
        "torques": "clamped" if clamped else "unclamped",
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", required=True, choices=["nut", "screwdriver"])
    p.add_argument("--run", type=Path, required=True, help="a train-rl output folder")
    p.add_argument("--every", type=int, default=100, help="evaluate checkpoint_<n> for n a multiple of this")
    p.add_argument("--seeds", type=int, nargs="+", default=[10001, 10002, 10003, 10004])
    p.add_argument("--episodes", type=int, default=20, help="episodes per seed")
    p.add_argument("--seconds", type=float, default=40.0)
    a = p.parse_args(argv)
    results = []
    for ckpt in tqdm(checkpoints(a.run, a.every), desc="checkpoints"):
        results.append(score(ckpt, a.task, a.seeds, a.episodes, a.seconds))
        print(json.dumps(results[-1]), flush=True)
    best = max(results, key=lambda r: (r["episodes_at_target"], r["rad_per_s"]))
    print(json.dumps({"best": best}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
