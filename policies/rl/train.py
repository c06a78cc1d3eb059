"""`dexscrew train-rl` and, for IsaacGym's Python 3.8, `python -m policies.rl.train` (same arguments)."""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import sys
from pathlib import Path

from policies.rl.config import TaskConfig, TrainConfig


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "stage",
        choices=["teacher", "student", "finetune"],
        help="teacher: PPO with privileged inputs; student: distil it into a history encoder; "
        "finetune: PPO on a distilled student's own actions (the teacher's critic judges)",
    )
    p.add_argument("--task", choices=["nut", "screwdriver"], required=True)
    p.add_argument("--backend", choices=["pybullet", "isaacgym"], default="pybullet")
    p.add_argument("--num-envs", type=int, default=32, help="parallel environments (IsaacGym: thousands)")
    p.add_argument("--workers", type=int, default=0, help="PyBullet worker processes (0 = one per core)")
    p.add_argument("--iterations", type=int, default=500, help="total iterations (a resumed run continues)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=int, default=50, help="iterations between checkpoints")
    p.add_argument("--out", type=Path, default=None, help="run folder (default runs/rl/<task>_<stage>_s<seed>)")
    p.add_argument("--resume", type=Path, default=None, help="checkpoint to continue from")
    p.add_argument(
        "--teacher",
        type=Path,
        default=None,
        help="teacher checkpoint (student stage), or a released student (nut_bolt.pt, screwdriver.pt) to distil",
    )
    p.add_argument("--student", type=Path, default=None, help="student checkpoint to fine-tune (finetune stage)")
    p.add_argument("--device", default="cpu", help="torch device of the learner (IsaacGym: cuda:0)")
    p.add_argument("--actor-hidden", type=int, nargs="+", default=None, help="MLP widths (default 512 256 128)")
    p.add_argument(
        "--lr", type=float, default=None, help="initial learning rate (5e-3 teacher, 3e-4 student, 1e-4 finetune)"
    )
    p.add_argument("--horizon", type=int, default=None, help="rollout steps per iteration (default 12)")
    p.add_argument("--mini-batches", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None, help="student: passes over each new rollout (default 4)")
    p.add_argument(
        "--teacher-action-prob",
        type=float,
        default=None,
        help="student: chance that the teacher's action drives an environment's step (DAgger mixing, default 0)",
    )
    p.add_argument("--no-randomise", action="store_true", help="turn domain randomisation off")
    p.add_argument(
        "--unclamped-torques",
        action="store_true",
        help="clip the hand's PD torques only at 300 N m instead of the authors' effective effort array "
        "(the released nut gait turns only so: docs/rl.md)",
    )
    p.add_argument(
        "--max-action-std",
        type=_positive,
        default=None,
        help="cap the action std (teacher: e.g. 0.3 to fine-tune the mean action a skill deploys; "
        "finetune: also the initial std, default 0.3)",
    )
    p.add_argument(
        "--clamp-action-mean",
        action="store_true",
        help="teacher: centre exploration on the action mean clamped to [-1, 1] (gradient straight through), "
        "as fine-tuning always does",
    )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    cfg = TrainConfig(
        stage=args.stage,
        task=args.task,
        backend=args.backend,
        num_envs=args.num_envs,
        workers=args.workers,
        seed=args.seed,
        iterations=args.iterations,
        save_every=args.save_every,
        device=args.device,
        randomise=not args.no_randomise,
        clamp_torques=not args.unclamped_torques,
    )
    if args.actor_hidden:
        cfg.model.actor_hidden = tuple(args.actor_hidden)
    if cfg.stage == "finetune":
        cfg.ppo.lr = cfg.finetune.lr
    if args.lr is not None:
        cfg.ppo.lr = cfg.student.lr = args.lr
    if args.horizon is not None:
        cfg.ppo.horizon = cfg.student.horizon = args.horizon
    if args.mini_batches is not None:
        cfg.ppo.mini_batches = cfg.student.mini_batches = args.mini_batches
    if args.epochs is not None:
        cfg.student.epochs = args.epochs
    if args.teacher_action_prob is not None:
        if not 0.0 <= args.teacher_action_prob <= 1.0:
            raise SystemExit(f"--teacher-action-prob must lie in [0, 1], got {args.teacher_action_prob}")
        cfg.student.teacher_action_prob = args.teacher_action_prob
    if args.max_action_std is not None:
        cfg.ppo.max_action_std = args.max_action_std
    cfg.ppo.clamp_mean = args.clamp_action_mean
    return cfg


def run(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    cfg = config_from_args(args)
    if cfg.backend == "isaacgym":
        # IsaacGym refuses to load once torch is imported, and every module below imports torch;
        # if it is missing, make_backend raises the error that says how to install it
        with contextlib.suppress(ImportError):
            import isaacgym  # noqa: F401
    import torch

    from policies.rl.backends import make_backend
    from policies.rl.runner import Runner
    from policies.rl.task import RevoluteTask

    update_threads = 0
    if cfg.backend == "pybullet":
        from policies.rl.backends.pybullet import usable_cpus

        torch.set_num_threads(1)  # while the physics workers run they own the cores; extra threads only contend
        update_threads = len(usable_cpus())  # between rollouts they are idle
    out = args.out or Path(f"runs/rl/{cfg.task}_{cfg.stage}_s{cfg.seed}")
    out.mkdir(parents=True, exist_ok=True)
    cmd = "dexscrew train-rl " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[2:]))
    with open(str(out / "command.txt"), "a") as f:
        f.write(json.dumps({"command": cmd, "seed": cfg.seed}) + "\n")
    kwargs = {"workers": cfg.workers} if cfg.backend == "pybullet" else {"device": cfg.device}
    kwargs.update(randomise=cfg.randomise, clamp_torques=cfg.clamp_torques)
    if cfg.solver_iterations is not None:
        kwargs.update(solver_iterations=cfg.solver_iterations)
    backend = make_backend(cfg.backend, cfg.task, cfg.num_envs, cfg.seed, **kwargs)
    env = RevoluteTask(backend, TaskConfig.for_task(cfg.task), seed=cfg.seed)
    try:
        runner = Runner(
            env, cfg, out, teacher_path=args.teacher, student_path=args.student, update_threads=update_threads
        )
        if args.resume is not None:
            runner.resume(args.resume)
        print(
            f"training {cfg.stage} for {cfg.task} on {cfg.backend} ({cfg.num_envs} envs), logs in {out}/log.jsonl",
            flush=True,
        )
        runner.train(cfg.iterations)
    finally:
        env.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policies.rl.train", description=__doc__)
    add_train_args(parser)
    argv = list(sys.argv[1:] if argv is None else argv)
    return run(parser.parse_args(argv), argv)


if __name__ == "__main__":
    sys.exit(main())
