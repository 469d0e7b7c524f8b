"""Body temperature from the face, camera-to-thermal registration, compensation and thermal liveness.

The daemon's entry points (all blocking; call them from a worker thread):

    calibration = calibration_for_config(config)                  # file at config.calibration_path or defaults
    thermometer = FaceThermometer(calibration, config.temperature)
    reading = thermometer.measure(thermal_frame, face, (width, height))  # -> kiosk.types.TemperatureReading
    live = liveness(thermal_frame, face, (width, height), calibration, config.liveness,
                    config.temperature.ambient_sensor_c, config.temperature.max_distance_m)  # LivenessResult | None
    state = FeverScreen(config.temperature).update(reading)       # fever flag with its confirmation
"""
from .calibration import Calibration, CalibrationError, calibration_for_config, describe_calibration, rig_from_config
from .fever import FeverScreen, FeverState
from .liveness import check as liveness
from .measure import FaceThermometer, measure

__all__ = ["Calibration", "CalibrationError", "FaceThermometer", "FeverScreen", "FeverState", "calibration_for_config",
           "describe_calibration", "liveness", "measure", "rig_from_config"]
