"""Behaviour cloning with touch and history: model, normalisation, training (one CPU or torchrun), deployment.

Importing this package does not import torch; the submodules that need it do.
"""
