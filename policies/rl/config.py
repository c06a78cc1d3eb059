"""Configuration of the RL stage; defaults are the method.md recipe."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from twins import rl_recipe as recipe


@dataclass
class RewardConfig:
    """Reward terms of method.md (per task where the paper differs)."""

    angvel_clip: float = 4.0
    angvel_scale: float = 2.5
    proximity_scale: float = 2.0
    overspeed_limit: float = 15.0
    overspeed_scale: float = -0.3
    pose_scale: float = -0.1
    torque_scale: float = -3.0
    work_scale: float = -0.01


@dataclass
class TerminationConfig:
    tip_distance_m: float = 0.10  # thumb or index tip farther than this from the object
    stagnation_s: float = 3.0  # no progress (or no contact) for this long
    progress_rad: float = 0.1  # object must turn this much within the window to count as progress
    episode_steps: int = 800  # 40 s at 20 Hz


@dataclass
class NoiseConfig:
    obs_episode_rad: float = 0.01
    obs_step_rad: float = 0.005
    action_episode: float = 0.01
    action_step: float = 0.005
    init_joint_frac: float = 0.1  # initial joint noise, fraction of half-range


@dataclass
class TaskConfig:
    task: str = "screwdriver"
    reward: RewardConfig = field(default_factory=RewardConfig)
    termination: TerminationConfig = field(default_factory=TerminationConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    # canonical order; None: the deploy grasp (dexscrew_sdk.skills.layout.init_targets_sdk)
    init_targets_rad: tuple[float, ...] | None = None

    @classmethod
    def for_task(cls, task: str) -> TaskConfig:
        if task == "nut":
            return cls(
                task="nut",
                reward=RewardConfig(angvel_scale=6.0, overspeed_limit=7.5, pose_scale=-0.5, torque_scale=-0.1),
                termination=TerminationConfig(tip_distance_m=0.07, stagnation_s=3.5),
            )
        if task == "screwdriver":  # the authors' training start ("screwdriver_inclined", ring finger on the handle):
            # their released student turns the handle from it, and not from the deploy grasp
            return cls(task="screwdriver", init_targets_rad=recipe.TRAIN_INIT_RAD["screwdriver"])
        raise ValueError(f"unknown task {task!r}; choose from ['nut', 'screwdriver']")


@dataclass
class ModelConfig:
    actor_hidden: tuple[int, ...] = (512, 256, 128)
    priv_hidden: tuple[int, ...] = (256, 128)
    latent_dim: int = 8
    init_log_std: float = 0.0


@dataclass
class PPOConfig:
    horizon: int = 12
    epochs: int = 5
    mini_batches: int = 4
    gamma: float = 0.99
    lam: float = 0.95
    lr: float = 5e-3
    kl_target: float = 0.02
    clip: float = 0.2
    value_clip: bool = True
    critic_coef: float = 4.0
    entropy_coef: float = 0.0
    bounds_coef: float = 0.0001  # keeps the action mean inside [-1, 1] (the env clamps)
    max_grad_norm: float = 1.0
    reward_scale: float = 0.01
    obs_clip: float = 5.0
    # > 0: cap the policy's action std. A skill deploys the mean action; fine-tuning a teacher at a small
    # std makes its mean good on its own, not only with exploration noise jiggling the object free.
    max_action_std: float = 0.0
    # Centre the Gaussian on the mean clamped to [-1, 1], the gradient passed straight through. A teacher's
    # raw mean often sits far past a limit; exploring around it there only explores moves the env clips away.
    # The finetune stage always sets it.
    clamp_mean: bool = False


@dataclass
class StudentConfig:
    lr: float = 3e-4
    horizon: int = 12
    epochs: int = 4  # several passes per rollout: on CPU, env steps are the scarce resource
    mini_batches: int = 4
    teacher_action_prob: float = 0.0  # DAgger: the student's own actions drive the rollouts
    dataset_iterations: int = 16  # DAgger aggregation: train on the labelled rollouts of this many iterations


@dataclass
class FinetuneConfig:
    """PPO on a distilled student: start gently, the policy already works."""

    lr: float = 1e-4  # Adam's first steps at the teacher's 5e-3 would wreck the distilled actor
    init_std: float = 0.3  # unless --max-action-std sets it (it also caps the std)


@dataclass
class TrainConfig:
    stage: str = "teacher"
    task: str = "screwdriver"
    backend: str = "pybullet"
    num_envs: int = 32
    workers: int = 0  # 0: one per core
    seed: int = 0
    iterations: int = 500
    save_every: int = 50
    device: str = "cpu"
    solver_iterations: int | None = None  # None: the backend's own (PyBullet 64, PhysX 8; twins.rl_recipe)
    randomise: bool = True
    clamp_torques: bool = True  # PD torques clipped to the authors' effective effort array (rl_recipe)
    model: ModelConfig = field(default_factory=ModelConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
