"""Seeed XIAO nRF52840 Sense: LSM6DS3TR-C on its own I2C bus (``IMU_SCL``/``IMU_SDA``, 0x6A),
powered from ``IMU_PWR``; the LiPo behind a 1M/510k divider on ``VBATT`` that is connected only
while ``READ_BATT_ENABLE`` sinks. The XIAO has no user button: its pairing window is the first
minutes after power-up (or a button wired from D1 to GND)."""

import struct
import time

import analogio
import board
import busio
import digitalio
from adafruit_lsm6ds import AccelRange, GyroRange, Rate
from adafruit_lsm6ds.lsm6ds3trc import LSM6DS3TRC

MODEL = "tiltmon-diy-xiao-sense"
HARDWARE = "Seeed XIAO nRF52840 Sense"
_DIVIDER = 1510 / 510  # 1M over 510k
_OUTX_L_G = 0x22
ODR_FOR_RATE = {25: "RATE_52_HZ", 50: "RATE_104_HZ", 100: "RATE_208_HZ", 200: "RATE_416_HZ"}


class Board:
    model = MODEL
    hardware = HARDWARE

    def __init__(self) -> None:
        self._power = digitalio.DigitalInOut(board.IMU_PWR)
        self._power.switch_to_output(value=True)
        time.sleep(0.05)  # the IMU needs ~35 ms after power-up
        self._imu = LSM6DS3TRC(busio.I2C(board.IMU_SCL, board.IMU_SDA), address=0x6A)
        self._buffer = bytearray(12)
        self._register = bytes([_OUTX_L_G])
        self._vbat = analogio.AnalogIn(board.VBATT)
        self._vbat_enable = digitalio.DigitalInOut(board.READ_BATT_ENABLE)
        self._vbat_enable.switch_to_input()  # the divider is off until a reading
        self._button = digitalio.DigitalInOut(board.D1)
        self._button.switch_to_input(pull=digitalio.Pull.UP)

    def configure_imu(self, rate_hz: int, acc_range_g: int, gyr_range_dps: int) -> None:
        imu = self._imu
        imu.accelerometer_range = getattr(AccelRange, "RANGE_%dG" % acc_range_g)
        imu.gyro_range = getattr(GyroRange, "RANGE_%d_DPS" % gyr_range_dps)
        odr = getattr(Rate, ODR_FOR_RATE[rate_hz])
        imu.accelerometer_data_rate = odr
        imu.gyro_data_rate = odr

    def read_raw(self) -> "tuple[tuple[int, ...], tuple[int, ...]]":
        with self._imu.i2c_device as device:
            device.write_then_readinto(self._register, self._buffer)
        gx, gy, gz, ax, ay, az = struct.unpack("<6h", self._buffer)
        return (ax, ay, az), (gx, gy, gz)

    def battery_volts(self) -> float:
        self._vbat_enable.switch_to_output(value=False)  # sink: connect the divider
        time.sleep(0.003)
        # The nRF's short acquisition time against a 1M source: the first readings run low.
        for _ in range(8):
            _ = self._vbat.value
        volts = self._vbat.value / 65535 * self._vbat.reference_voltage * _DIVIDER
        self._vbat_enable.switch_to_input()
        return volts

    def pairing_button_pressed(self) -> bool:
        return not self._button.value
