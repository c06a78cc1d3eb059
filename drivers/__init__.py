"""Real hardware behind the SDK's interfaces: the UR5e over ur_rtde, the XHand over its vendor SDK."""
