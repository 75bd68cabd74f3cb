"""Sensor calibration: gyroscope bias, accelerometer calibration, sensor-to-pelvis alignment."""
