"""The running daemon: services and stages wired together, remote commands, health, logs, devices and
the asyncio runtime. The top layer below the command line."""
