"""Thermal sensors (MLX90640 over I2C or UART, and a register-level mock)."""
from .base import ThermalError, ThermalFrame, ThermalGeometry, ThermalSensor

__all__ = ["ThermalError", "ThermalFrame", "ThermalGeometry", "ThermalSensor"]
