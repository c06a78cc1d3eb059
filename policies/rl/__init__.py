"""Stage 1: PPO teacher with privileged inputs, student distillation, env backends, export.

Split like rsl_rl: `models` (networks), `ppo` / `distill` (algorithms), `runner`
(training loops, logs, checkpoints), `task` (observations, rewards,
terminations on top of any physics backend), `backends` (PyBullet CPU and
IsaacGym GPU). Everything the IsaacGym backend imports stays Python 3.8
compatible (IsaacGym Preview 4 ships for Python 3.8 only).
"""
