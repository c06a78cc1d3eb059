"""IsaacGym Preview 4 backend (GPU, thousands of environments), written against gymapi/gymtorch.

Python 3.8 compatible (IsaacGym's interpreter): no SDK package imports, only
the pure-data modules through `policies.rl.sdk`. Assets (hand URDF, object
URDFs and the grasp offsets) are written beforehand, on the SDK's Python, by
`python -m policies.rl.backends.isaacgym_assets FOLDER`.

Physics follow the authors' setup, from the recipe the PyBullet world uses
(twins.rl_recipe): the left XHand with gravity off, torque-mode PD at 200 Hz
computed on the GPU, tau = Kp (target - q) - Kd qdot clipped to the effective
effort array (or 300 N m, unclamped), armature 0.001, hand joint friction 0.01,
the object on a revolute joint with PhysX's friction coefficient 0.2 (load
dependent, as in the authors' world), 8 position iterations; nominal scene and
randomisation ranges of the recipe.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from policies.rl.sdk import joints
from twins import rl_recipe as recipe

HOW_TO_INSTALL = (
    "IsaacGym is not installed. It is not on PyPI: download 'IsaacGym Preview 4' from "
    "https://developer.nvidia.com/isaac-gym, create a Python 3.8 environment, `pip install -e isaacgym/python`, "
    "install this repository into it, then run `python -m policies.rl.train ... --backend isaacgym` there."
)
TIP_LINKS = recipe.TIP_LINKS
DISTAL_LINKS = recipe.DISTAL_LINKS
PRIV_DIM = recipe.PRIVILEGED_DIM  # the same privileged layout as the PyBullet world


def import_gym():
    """(gymapi, gymtorch); must run before torch is imported (an IsaacGym requirement)."""
    try:
        from isaacgym import gymapi, gymtorch
    except ImportError as exc:
        raise ImportError(HOW_TO_INSTALL + f" ({exc})") from None
    return gymapi, gymtorch


class IsaacGymBackend:
    def __init__(
        self,
        task: str,
        num_envs: int,
        seed: int,
        device: str = "cuda:0",
        randomise: bool = True,
        solver_iterations: int = recipe.SOLVER_ITERATIONS,
        asset_root: str = "isaacgym_assets",
        headless: bool = True,
        clamp_torques: bool = True,
    ) -> None:
        gymapi, gymtorch = import_gym()
        import torch

        self.torch, self.gymapi, self.gymtorch = torch, gymapi, gymtorch
        self.task, self.num_envs, self.randomise = task, num_envs, randomise
        self.device = torch.device(device)
        self.priv_dim = PRIV_DIM
        self.gen = torch.Generator(device="cpu")
        self.gen.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        effort = recipe.EFFECTIVE_EFFORT_NM if clamp_torques else [recipe.UNCLAMPED_EFFORT_NM] * 12
        self.effort_nm = [float(x) for x in effort]
        root = Path(asset_root)
        meta_path = root / "assets.json"
        if not meta_path.is_file():
            raise FileNotFoundError(
                f"{meta_path} missing: write the assets first with "
                f"`python -m policies.rl.backends.isaacgym_assets {root}`"
            )
        self.assets = json.loads(meta_path.read_text())[task]
        self.gym = gymapi.acquire_gym()
        self.sim = self._create_sim(solver_iterations)
        self._create_envs(root)
        self.gym.prepare_sim(self.sim)
        self._wrap_tensors()
        self.targets = self.q_default.repeat(num_envs, 1)
        self.kp = torch.full((num_envs, 1), 3.0, device=self.device)
        self.kd = torch.full((num_envs, 1), 0.01, device=self.device)
        self.torque = torch.zeros(num_envs, 12, device=self.device)

    # ----------------------------------------------------------------- set-up
    def _create_sim(self, iterations: int):
        g = self.gymapi
        p = g.SimParams()
        p.dt = 1.0 / 200.0
        p.substeps = 1
        p.up_axis = g.UP_AXIS_Z
        p.gravity = g.Vec3(0.0, 0.0, -9.81)
        p.use_gpu_pipeline = self.device.type == "cuda"
        p.physx.use_gpu = self.device.type == "cuda"
        p.physx.num_position_iterations = iterations
        p.physx.num_velocity_iterations = 0
        p.physx.contact_offset = 0.002
        p.physx.rest_offset = 0.0
        p.physx.max_gpu_contact_pairs = 8 * 1024 * 1024
        gpu = self.device.index or 0
        sim = self.gym.create_sim(gpu, -1, g.SIM_PHYSX, p)
        if sim is None:
            raise RuntimeError(f"IsaacGym could not create a PhysX simulation on {self.device}")
        return sim

    def _create_envs(self, root: Path) -> None:
        g, gym, torch = self.gymapi, self.gym, self.torch
        opts = g.AssetOptions()
        opts.fix_base_link = True
        opts.armature = recipe.ARMATURE_KGM2
        opts.disable_gravity = True  # the authors' hand has gravity off; the object keeps it (its joint load)
        opts.default_dof_drive_mode = g.DOF_MODE_EFFORT
        hand_asset = gym.load_asset(self.sim, str(root), self.assets["hand_urdf"], opts)
        obj_opts = g.AssetOptions()
        obj_opts.fix_base_link = True
        obj_shapes = [gym.load_asset(self.sim, str(root), f, obj_opts) for f in self.assets["object_urdfs"]]
        names = list(gym.get_asset_dof_names(hand_asset))
        missing = [n for n in joints.HAND_JOINT_NAMES if n not in names]
        if missing:
            raise ValueError(f"hand URDF lacks joints {missing}")
        props = gym.get_asset_dof_properties(hand_asset)
        props["driveMode"][:] = g.DOF_MODE_EFFORT
        props["stiffness"][:] = 0.0
        props["damping"][:] = 0.0
        props["friction"][:] = recipe.HAND_JOINT_FRICTION_NM
        obj_props = gym.get_asset_dof_properties(obj_shapes[0])
        obj_props["driveMode"][:] = g.DOF_MODE_NONE
        obj_props["friction"][:] = recipe.OBJECT_FRICTION_COEFF
        lower, upper = g.Vec3(-0.5, -0.5, 0.0), g.Vec3(0.5, 0.5, 1.0)
        per_row = int(math.sqrt(self.num_envs)) or 1
        hand_idx, obj_idx, self.params = [], [], []  # type: List[int], List[int], List[Dict[str, Any]]
        self.envs = []  # type: List[Any]
        for e in range(self.num_envs):
            env = gym.create_env(self.sim, lower, upper, per_row)
            p = self._sample_params()
            hand_pose = g.Transform()
            hand_pose.p = g.Vec3(*recipe.HAND_POS_M)
            hand_pose.r = g.Quat(*recipe.quat_xyzw(recipe.hand_rotation(math.radians(p["tilt_deg"]), p["tilt_y"])))
            hand = gym.create_actor(env, hand_asset, hand_pose, "hand", e, 0)
            gym.set_actor_dof_properties(env, hand, props)
            obj_pose = g.Transform()
            obj_pose.p = g.Vec3(p["x"], p["y"], 0.0)
            obj = gym.create_actor(env, obj_shapes[p["shape"]], obj_pose, "object", e, 0)
            gym.set_actor_dof_properties(env, obj, obj_props)
            gym.set_actor_scale(env, obj, p["scale"])
            bodies = gym.get_actor_rigid_body_properties(env, obj)
            bodies[-1].mass = p["mass"]
            bodies[-1].com = g.Vec3(*p["com"])
            gym.set_actor_rigid_body_properties(env, obj, bodies, True)
            for actor in (hand, obj):
                shapes = gym.get_actor_rigid_shape_properties(env, actor)
                for s in shapes:
                    s.friction = p["friction"]  # PhysX averages the pair: both get the pair's value
                    s.restitution = p["restitution"]
                gym.set_actor_rigid_shape_properties(env, actor, shapes)
            hand_idx.append(gym.get_actor_index(env, hand, g.DOMAIN_SIM))
            obj_idx.append(gym.get_actor_index(env, obj, g.DOMAIN_SIM))
            self.envs.append(env)
            self.params.append(p)
        env0 = self.envs[0]
        self.dof_map = [gym.find_actor_dof_index(env0, 0, n, g.DOMAIN_ENV) for n in joints.HAND_JOINT_NAMES]
        self.obj_dof = gym.find_actor_dof_index(env0, 1, self.assets["object_joint"], g.DOMAIN_ENV)
        self.tip_bodies = [gym.find_actor_rigid_body_index(env0, 0, n, g.DOMAIN_ENV) for n in TIP_LINKS]
        self.distal_bodies = [gym.find_actor_rigid_body_index(env0, 0, n, g.DOMAIN_ENV) for n in DISTAL_LINKS]
        self.obj_body = gym.find_actor_rigid_body_index(env0, 1, self.assets["object_link"], g.DOMAIN_ENV)
        self.hand_base = gym.find_actor_rigid_body_index(env0, 0, self.assets["hand_base_link"], g.DOMAIN_ENV)
        dev = self.device
        self.actor_ids = torch.tensor([hand_idx, obj_idx], dtype=torch.int32, device=dev).t().contiguous()
        self.joint_lower = torch.tensor([props["lower"][names.index(n)] for n in joints.HAND_JOINT_NAMES])
        self.joint_upper = torch.tensor([props["upper"][names.index(n)] for n in joints.HAND_JOINT_NAMES])
        self.q_default = torch.tensor(self.assets["q_default"], dtype=torch.float32, device=dev)
        self.effort = torch.tensor(self.effort_nm, device=dev)
        self.static_priv = torch.tensor(
            [[p["mass"], *p["com"], p["friction"], p["scale"], p["restitution"]] for p in self.params], device=dev
        )
        self.shape_id = torch.tensor([[float(p["shape"])] for p in self.params], device=dev)

    def _sample_params(self) -> dict[str, Any]:
        """One scene of the shared recipe (nominal, or drawn from its ranges)."""
        scene = recipe.sample_scene(self.task, self.rng) if self.randomise else recipe.nominal_scene(self.task)
        names = [sh.name for sh in recipe.SHAPES[self.task]]
        return {
            "shape": names.index(scene.shape),
            "mass": scene.mass_kg,
            "com": [float(x) for x in scene.com_m],
            "friction": scene.contact_mu,
            "restitution": scene.restitution,
            "scale": scene.scale,
            "tilt_deg": math.degrees(scene.tilt_rad),
            "tilt_y": scene.tilt_y_rad,
            "x": scene.object_xy_m[0],
            "y": scene.object_xy_m[1],
        }

    def _wrap_tensors(self) -> None:
        gym, wrap, n = self.gym, self.gymtorch.wrap_tensor, self.num_envs
        self.dof_state = wrap(gym.acquire_dof_state_tensor(self.sim))
        self.dofs = self.dof_state.view(n, -1, 2)
        self.bodies = wrap(gym.acquire_rigid_body_state_tensor(self.sim)).view(n, -1, 13)
        self.contacts = wrap(gym.acquire_net_contact_force_tensor(self.sim)).view(n, -1, 3)
        self.forces = self.torch.zeros(n, self.bodies.shape[1], 3, device=self.device)
        self.efforts = self.torch.zeros(n, self.dofs.shape[1], device=self.device)
        self._refresh()

    def _refresh(self) -> None:
        self.gym.refresh_dof_state_tensor(self.sim)
        self.gym.refresh_rigid_body_state_tensor(self.sim)
        self.gym.refresh_net_contact_force_tensor(self.sim)

    # --------------------------------------------------------------- protocol
    def reset(self, env_ids, q_init) -> None:  # type: ignore[no-untyped-def]
        torch = self.torch
        ids = env_ids.to(self.device).long()
        q0 = torch.max(
            torch.min(q_init.to(self.device), self.joint_upper.to(self.device)), self.joint_lower.to(self.device)
        )
        hand_dofs = self.dofs[ids]
        hand_dofs[:, self.dof_map, 0] = q0
        hand_dofs[:, :, 1] = 0.0
        hand_dofs[:, self.obj_dof, 0] = 0.0
        self.dofs[ids] = hand_dofs
        self.targets[ids] = q0
        if self.randomise:
            k = len(ids)
            (kp0, kp1), (kd0, kd1) = recipe.RANDOMISATION.kp, recipe.RANDOMISATION.kd
            self.kp[ids] = kp0 + (kp1 - kp0) * torch.rand(k, 1, device=self.device)
            self.kd[ids] = kd0 + (kd1 - kd0) * torch.rand(k, 1, device=self.device)
        actors = self.actor_ids[ids].flatten().contiguous()
        self.gym.set_dof_state_tensor_indexed(
            self.sim, self.gymtorch.unwrap_tensor(self.dof_state), self.gymtorch.unwrap_tensor(actors), len(actors)
        )
        self._refresh()

    def step(self, targets) -> None:  # type: ignore[no-untyped-def]
        torch, g = self.torch, self.gymapi
        self.targets = torch.nan_to_num(targets.to(self.device), nan=0.0)
        self.forces.zero_()
        if self.randomise:  # random object force 2 x mass x N(0, 1) with probability 0.25
            push = (torch.rand(self.num_envs, 1, device=self.device) < 0.25).float()
            mass = self.static_priv[:, :1]
            self.forces[:, self.obj_body] = push * 2.0 * mass * torch.randn(self.num_envs, 3, device=self.device)
        for _ in range(10):
            q, qd = self.dofs[:, self.dof_map, 0], self.dofs[:, self.dof_map, 1]
            tau = (self.kp * (self.targets - q) - self.kd * qd).clamp(-self.effort, self.effort)
            self.efforts[:, self.dof_map] = tau
            self.gym.set_dof_actuation_force_tensor(self.sim, self.gymtorch.unwrap_tensor(self.efforts))
            self.gym.apply_rigid_body_force_tensors(
                self.sim, self.gymtorch.unwrap_tensor(self.forces.view(-1, 3)), None, g.ENV_SPACE
            )
            self.gym.simulate(self.sim)
            self.gym.fetch_results(self.sim, True)
            self.gym.refresh_dof_state_tensor(self.sim)
        self.torque = tau
        self._refresh()

    def state(self):  # type: ignore[no-untyped-def]
        from policies.rl.backends.base import WorldState

        torch = self.torch
        obj = self.bodies[:, self.obj_body]
        tips = self.bodies[:, self.tip_bodies]
        base = self.bodies[:, self.hand_base]
        contact = torch.linalg.norm(self.contacts[:, self.distal_bodies], dim=-1) > 0.05
        angle, angvel = self.dofs[:, self.obj_dof, 0], self.dofs[:, self.obj_dof, 1]
        kpkd = torch.cat([self.kp, self.kd], -1)
        priv = torch.cat(
            [
                obj[:, 0:3],
                obj[:, 3:7],
                obj[:, 7:10],
                obj[:, 10:13],
                angle[:, None],
                angvel[:, None],
                tips[:, :, 0:3].flatten(1),
                tips[:, :, 3:7].flatten(1),
                tips[:, :, 7:10].flatten(1),
                self.static_priv[:, :4],
                self.static_priv[:, 4:5],
                self.static_priv[:, 5:6],
                self.static_priv[:, 6:7],
                kpkd,
                base[:, 0:3],
                base[:, 3:7],
                self.shape_id,
            ],
            -1,
        )
        return WorldState(
            q=self.dofs[:, self.dof_map, 0].clone(),
            qd=self.dofs[:, self.dof_map, 1].clone(),
            torque=self.torque.clone(),
            angle=angle.clone(),
            angvel=angvel.clone(),
            obj_pos=obj[:, 0:3].clone(),
            tips=tips[:, :, 0:3].clone(),
            contact=contact,
            priv=priv,
        )

    def close(self) -> None:
        if getattr(self, "sim", None) is not None:
            self.gym.destroy_sim(self.sim)
            self.sim = None
