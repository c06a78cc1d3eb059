"""Shipped skills: exported TorchScript policies with their skill.json, read through importlib.resources."""
