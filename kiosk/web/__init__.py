"""The web server inside the daemon: the kiosk screen (`/`), its live updates and the health API."""
