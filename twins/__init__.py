"""PyBullet twins: the full cell (UR5e + XHand + touch + nut or screwdriver) and the simplified RL world."""
