"""Learning: reinforcement learning of finger-rotation skills (rl/) and behaviour cloning."""
