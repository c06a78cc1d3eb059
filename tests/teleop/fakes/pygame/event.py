"""pygame.event: pump() lets SDL refresh device state; the fake counts calls."""

pumps = 0


def pump() -> None:
    global pumps
    pumps += 1
