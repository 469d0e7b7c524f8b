"""Gate relays: libgpiod v2 line, LCUS-type USB/serial board, and a mock."""
