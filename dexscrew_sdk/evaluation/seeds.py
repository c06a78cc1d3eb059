"""Every seed range of the method, in one place, disjoint by construction.

Scenes drawn for recording demonstrations, seeds of BC training, RL training
and checkpoint selection, and evaluation scenes never share a seed, so an
evaluation trial can never replay a scene a policy was trained or selected on.
The ranges are written next to every evaluation's results (`describe()`).
"""

from __future__ import annotations

from dataclasses import dataclass

from dexscrew_sdk.errors import ConfigError


@dataclass(frozen=True)
class SeedRange:
    purpose: str
    start: int
    stop: int  # exclusive

    def __contains__(self, seed: object) -> bool:
        return isinstance(seed, int) and self.start <= seed < self.stop

    def seed(self, index: int) -> int:
        """The index-th seed of the range; ConfigError past its end."""
        if not 0 <= index < self.stop - self.start:
            raise ConfigError(f"{self.purpose} seed index {index} outside [0, {self.stop - self.start})")
        return self.start + index


RL_TRAINING = SeedRange("rl_training", 0, 10_000)
RL_SELECTION = SeedRange("rl_selection", 10_000, 20_000)
RECORDING = SeedRange("recording", 100_000, 200_000)
BC_TRAINING = SeedRange("bc_training", 200_000, 300_000)
EVALUATION = SeedRange("evaluation", 1_000_000, 2_000_000)
SEED_RANGES: tuple[SeedRange, ...] = (RL_TRAINING, RL_SELECTION, RECORDING, BC_TRAINING, EVALUATION)

# Within the evaluation range: plain trials from its start, perturbation trials from this offset,
# so the same index gives every method the same scene (paired comparison).
PERTURBATION_OFFSET = 500_000


def purpose_of(seed: int) -> str | None:
    for r in SEED_RANGES:
        if seed in r:
            return r.purpose
    return None


def check_evaluation_seed(seed: int) -> int:
    """The seed itself if it is an evaluation seed; ConfigError naming its range otherwise."""
    if seed not in EVALUATION:
        owner = purpose_of(seed)
        raise ConfigError(
            f"seed {seed} is not an evaluation seed (it belongs to {owner or 'no range'}); "
            f"evaluation seeds are [{EVALUATION.start}, {EVALUATION.stop})"
        )
    return seed


def trial_seed(index: int, perturbed: bool = False) -> int:
    return EVALUATION.seed(index + (PERTURBATION_OFFSET if perturbed else 0))


def describe() -> dict[str, list[int]]:
    return {r.purpose: [r.start, r.stop] for r in SEED_RANGES}
