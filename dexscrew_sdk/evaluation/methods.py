"""The evaluated methods as small strategy objects (see `trial.Method`).

- direct_sim2real: the shipped finger-rotation skill alone, the arm held still (the paper's baseline);
- skill_follower: the same skill with the scripted arm follower lowering the wrist as the object turns;
- expert_replay: open-loop replay of a recorded demonstration of another seed (for an unseen object,
  one of a seen shape of the same task);
- bc, bc_touch, bc_hist, bc_touch_hist: BC checkpoints through the BC deployment loop.

`MethodConfig` is plain data (it crosses into worker processes); `check_methods` loads every
resource once, in the calling process, so a missing stage or a checkpoint that does not match the
cell is refused before any worker starts and before anything moves.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dexscrew_sdk.errors import ConfigError, DexscrewError
from dexscrew_sdk.evaluation import catalog
from dexscrew_sdk.evaluation.results import TrialSpec
from dexscrew_sdk.evaluation.trial import Method, TrialCell

DEFAULT_PITCH_M = 0.00175


class StageUnavailable(DexscrewError):
    """A method needs a piece of the pipeline that is missing (not installed, not trained, not recorded)."""


@dataclass
class MethodConfig:
    methods: list[str]
    skill_dirs: dict[str, str] = field(default_factory=dict)  # task -> exported skill folder (default: `skill`)
    skill: str = "shipped"  # --skill shipped | official | PATH (dexscrew_sdk.skills.choice)
    skill_identity: dict[str, dict[str, Any]] = field(default_factory=dict)  # task -> path + sha256 (check_methods)
    demos_dirs: list[str] = field(default_factory=list)  # datasets of demonstrations for expert replay
    checkpoints: dict[str, dict[str, str]] = field(default_factory=dict)  # method -> task -> BC checkpoint
    pitch_m: float = DEFAULT_PITCH_M  # the thread's pitch, for the arm follower
    all_episodes: bool = False  # expert replay may take demonstrations not labelled successful

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in catalog.METHODS]
        if unknown:
            raise ConfigError(f"unknown methods {unknown}; choose from {list(catalog.METHODS)}")


# ------------------------------------------------------------------ skill methods
class SkillMethod:
    """The shipped skill owns the hand; the arm is held still, or follows the thread."""

    def __init__(
        self, name: str, skill_dirs: dict[str, str], follow: bool, pitch_m: float, skill: str = "shipped"
    ) -> None:
        self.name, self.follow, self.pitch_m = name, follow, pitch_m
        self._dirs, self._choice = skill_dirs, skill
        self.identity: dict[str, dict[str, Any]] = {}
        self._skills: dict[str, Any] = {}
        self._skill: Any = None
        self._follower: Any = None
        self._q_arm: np.ndarray | None = None

    def skill_for(self, task: str) -> Any:
        if task not in self._skills:
            from dexscrew_sdk.skills.choice import load_skill

            self._skills[task], chosen = load_skill(self._dirs.get(task) or self._choice, task)
            self.identity[task] = chosen.identity()
        return self._skills[task]

    @property
    def skill_on(self) -> bool:
        return self._skill is not None and self._skill.running

    def start(self, cell: TrialCell, spec: TrialSpec) -> None:
        self._q_arm = np.array(cell.arm.state().q_rad, dtype=float)
        if self.follow:
            from dexscrew_sdk.teleop.follow import ArmFollower, ReadOnlyWorld

            self._follower = ArmFollower(cell.arm, ReadOnlyWorld(cell.world), self.pitch_m)
            self._follower.start()
        self._skill = self.skill_for(spec.task)
        self._skill.start(cell.hand)

    def step(self, cell: TrialCell) -> None:
        if self._follower is not None:
            self._follower.step()
        else:
            cell.arm.servo(self._q_arm)  # held still (and the arm's watchdog stays fed)
        self._skill.step()

    def stop(self, cell: TrialCell) -> None:
        if self._skill is not None:
            self._skill.stop()
        self._skill = self._follower = None


# ------------------------------------------------------------------ expert replay
class ExpertReplay:
    """Open loop: the targets a demonstration sent, step by step, whatever the scene does."""

    name = "expert_replay"

    def __init__(self, demos_dirs: list[str], all_episodes: bool = False) -> None:
        self.demos_dirs = [Path(d) for d in demos_dirs]
        self._demos = [d for root in self.demos_dirs for d in _load_demos(root, all_episodes)]
        self._replayer: Any = None
        self.chosen: dict[str, Any] = {}

    def pick(self, task: str, shape: str, seed: int) -> dict[str, Any]:
        """A successful demonstration of this shape on another seed; an unseen shape takes a seen one's."""
        seen = catalog.seen_shapes(task)
        shapes = [shape] if shape in seen else list(seen)
        pool = [d for d in self._demos if d["task"] == task and d["shape"] in shapes and d["seed"] != seed]
        if not pool:
            raise StageUnavailable(
                f"expert replay: no successful {task} demonstration of {shapes} in {list(map(str, self.demos_dirs))}; "
                f"record some with `dexscrew record` first"
            )
        return pool[seed % len(pool)]  # deterministic for the trial's seed, spread over the demos

    @property
    def skill_on(self) -> bool:
        return self._replayer is not None and self._replayer.skill_on

    def start(self, cell: TrialCell, spec: TrialSpec) -> None:
        """The trial's own scene is already there: replay from its start, no move to the recorded one."""
        from dexscrew_sdk.recording import load_episode
        from dexscrew_sdk.recording.replay import EpisodeReplayer

        self.chosen = self.pick(spec.task, spec.shape, spec.seed)
        self._replayer = EpisodeReplayer(load_episode(self.chosen["path"]))

    def step(self, cell: TrialCell) -> None:
        self._replayer.step(cell)  # past the end it holds the demonstration's last targets

    def stop(self, cell: TrialCell) -> None:
        self._replayer = None


def _load_demos(root: Path, all_episodes: bool = False) -> list[dict[str, Any]]:
    from dexscrew_sdk.recording.episode import read_meta

    files = sorted((root / "episodes").glob("*.npz")) if (root / "episodes").is_dir() else sorted(root.glob("*.npz"))
    demos = []
    for f in files:
        meta = read_meta(f)
        if meta.get("success") is not True and not (all_episodes and meta.get("success") is None):
            continue  # filtered: only successful demonstrations are experts (unlabelled ones if asked)
        demos.append({"path": str(f), "task": meta.get("task"), "shape": meta.get("shape"),
                      "seed": int(meta.get("seed", -1))})  # fmt: skip
    if not demos:
        raise StageUnavailable(f"expert replay: no successful episodes in {root}; record demonstrations first")
    return demos


# ------------------------------------------------------------------ BC
BC_DEPLOY_MODULE = "policies.bc.deploy"


class BCMethod:
    """A BC checkpoint per task, run through the BC deployment loop (chunked execution at 20 Hz)."""

    def __init__(self, name: str, checkpoints: dict[str, str]) -> None:
        self.name = name
        try:
            self._deploy = importlib.import_module(BC_DEPLOY_MODULE)
        except ModuleNotFoundError as exc:
            raise StageUnavailable(
                f"method {name!r} needs the BC deployment loop ({BC_DEPLOY_MODULE}), missing here: {exc}"
            ) from None
        if not checkpoints:
            raise StageUnavailable(f"method {name!r}: no BC checkpoint given (train one with `dexscrew train-bc`)")
        self._paths = checkpoints
        self._policies: dict[str, Any] = {}
        self._runner: Any = None

    def policy_for(self, task: str) -> Any:
        if task not in self._policies:
            path = self._paths.get(task)
            if path is None:
                raise StageUnavailable(f"method {self.name!r}: no BC checkpoint for task {task!r}")
            self._policies[task] = self._deploy.load_policy(path)
        return self._policies[task]

    @property
    def skill_on(self) -> bool:
        return False

    def start(self, cell: TrialCell, spec: TrialSpec) -> None:
        self._runner = self._deploy.PolicyRunner(self.policy_for(spec.task), cell)
        self._runner.start()

    def step(self, cell: TrialCell) -> None:
        self._runner.step()

    def stop(self, cell: TrialCell) -> None:
        if self._runner is not None:
            self._runner.stop()
        self._runner = None


def build_methods(cfg: MethodConfig) -> dict[str, Method]:
    out: dict[str, Method] = {}
    for name in cfg.methods:
        if name in ("direct_sim2real", "skill_follower"):
            out[name] = SkillMethod(name, cfg.skill_dirs, name == "skill_follower", cfg.pitch_m, cfg.skill)
        elif name == "expert_replay":
            if not cfg.demos_dirs:
                raise StageUnavailable("expert replay needs demonstrations: give --demos DATASET_DIR")
            out[name] = ExpertReplay(cfg.demos_dirs, cfg.all_episodes)
        else:
            out[name] = BCMethod(name, cfg.checkpoints.get(name, {}))
    return out


def check_methods(cfg: MethodConfig, tasks: set[str]) -> None:
    """Load every resource the trials will need (skills, demos, checkpoints); raise before anything moves."""
    methods = build_methods(cfg)
    for m in methods.values():
        for task in sorted(tasks):
            if isinstance(m, SkillMethod):
                m.skill_for(task)
                cfg.skill_identity[task] = m.identity[task]  # written with the plan
            elif isinstance(m, BCMethod):
                m.policy_for(task)
