"""Teleoperation: operator devices, wrist control, the arm follower and the scripted operator."""
