"""Walk-up face + temperature kiosk daemon."""

__version__ = "0.1.0"
