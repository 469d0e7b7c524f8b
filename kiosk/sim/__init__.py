"""Scene simulator: people walking up to the kiosk, seen by the mock camera and the mock MLX90640."""
