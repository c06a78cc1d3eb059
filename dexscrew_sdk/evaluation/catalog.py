"""What is evaluated: methods, objects (seen in training or not) and the paper's own numbers.

Numbers are from the paper's Table I (nuts) and Table II (screwdriver),
shared/reference/method.md; None where the paper reports none.
"""

from __future__ import annotations

from dataclasses import dataclass

# method key -> label in the tables, in the tables' row order
METHODS: dict[str, str] = {
    "direct_sim2real": "Direct sim-to-real (skill, arm static)",
    "skill_follower": "Skill + arm follower",
    "expert_replay": "Expert replay",
    "bc": "BC",
    "bc_touch": "BC + touch",
    "bc_hist": "BC + history",
    "bc_touch_hist": "BC + touch + history",
}
BC_METHODS: tuple[str, ...] = ("bc", "bc_touch", "bc_hist", "bc_touch_hist")
BASELINES: tuple[str, ...] = ("direct_sim2real", "skill_follower", "expert_replay", "bc")


@dataclass(frozen=True)
class EvalObject:
    task: str
    shape: str
    seen: bool  # in the BC training set


OBJECTS: tuple[EvalObject, ...] = (
    EvalObject("nut", "square", True),
    EvalObject("nut", "triangular", True),
    EvalObject("nut", "hexagonal", False),
    EvalObject("nut", "cross", False),
    EvalObject("screwdriver", "octagon", True),
    EvalObject("screwdriver", "dodecagon", True),
    EvalObject("screwdriver", "pentagon", False),
)


def objects_of(task: str) -> tuple[EvalObject, ...]:
    return tuple(o for o in OBJECTS if o.task == task)


def seen_shapes(task: str) -> tuple[str, ...]:
    return tuple(o.shape for o in OBJECTS if o.task == task and o.seen)


def find_object(task: str, shape: str) -> EvalObject:
    for o in OBJECTS:
        if o.task == task and o.shape == shape:
            return o
    from dexscrew_sdk.errors import ConfigError

    raise ConfigError(f"no evaluation object {task}/{shape}; choose from {[f'{o.task}/{o.shape}' for o in OBJECTS]}")


# Table I: progress % per nut shape; time (s) to full fastening for BC + touch + history only.
PAPER_NUT_PROGRESS: dict[str, dict[str, float]] = {
    "bc": {"square": 63.75, "triangular": 30.00, "hexagonal": 75.00, "cross": 63.75},
    "bc_touch": {"square": 62.50, "triangular": 66.25, "hexagonal": 75.00, "cross": 82.50},
    "bc_hist": {"square": 87.50, "triangular": 80.00, "hexagonal": 85.00, "cross": 100.00},
    "bc_touch_hist": {"square": 97.50, "triangular": 96.25, "hexagonal": 95.00, "cross": 98.75},
}
PAPER_NUT_TIME_S: dict[str, dict[str, float]] = {
    "bc_touch_hist": {"square": 124.0, "triangular": 118.0, "hexagonal": 75.0, "cross": 84.0},
}
# Table II: one progress % per method over the handles; time for BC + touch + history.
PAPER_SCREWDRIVER_PROGRESS: dict[str, float] = {
    "direct_sim2real": 41.6,
    "expert_replay": 50.8,
    "bc": 69.2,
    "bc_touch": 67.6,
    "bc_hist": 87.5,
    "bc_touch_hist": 95.0,
}
PAPER_SCREWDRIVER_TIME_S: dict[str, float] = {"bc_touch_hist": 188.0}


def paper_progress(method: str, task: str, shape: str) -> float | None:
    if task == "nut":
        return PAPER_NUT_PROGRESS.get(method, {}).get(shape)
    return PAPER_SCREWDRIVER_PROGRESS.get(method)


def paper_time_s(method: str, task: str, shape: str) -> float | None:
    if task == "nut":
        return PAPER_NUT_TIME_S.get(method, {}).get(shape)
    return PAPER_SCREWDRIVER_TIME_S.get(method)
