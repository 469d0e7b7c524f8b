"""Hardware access for the kiosk: camera, MLX90640 thermopile, relay and GPIO inputs.

Every device sits behind a small interface (`base.py` in each sub-package) with a real
implementation and a mock at the hardware edge. Drivers are blocking; the daemon calls
them from threads. Nothing here knows about policy.
"""
