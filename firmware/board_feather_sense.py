"""Adafruit Feather nRF52840 Sense: LSM6DS33 (or LSM6DS3TR-C on later boards) on the board's
I2C bus at 0x6A, the LiPo behind a 100k/100k divider on ``board.VOLTAGE_MONITOR``, the user
switch as the pairing button."""

import struct

import analogio
import board
import digitalio
from adafruit_lsm6ds import AccelRange, GyroRange, Rate

MODEL = "tiltmon-diy-feather-sense"
HARDWARE = "Adafruit Feather nRF52840 Sense"
_DIVIDER = 2.0  # 100k / 100k
_OUTX_L_G = 0x22  # gyroscope x, y, z then accelerometer x, y, z: 12 bytes in one read
# Output data rate at least twice the sample rate, so the value read is never staler than
# half a sample period.
ODR_FOR_RATE = {25: "RATE_52_HZ", 50: "RATE_104_HZ", 100: "RATE_208_HZ", 200: "RATE_416_HZ"}


def _open_imu(i2c: object) -> object:
    try:
        from adafruit_lsm6ds.lsm6ds33 import LSM6DS33

        return LSM6DS33(i2c)
    except RuntimeError:  # wrong chip id: the later board revision
        from adafruit_lsm6ds.lsm6ds3trc import LSM6DS3TRC

        return LSM6DS3TRC(i2c)


class Board:
    model = MODEL
    hardware = HARDWARE

    def __init__(self) -> None:
        self._imu = _open_imu(board.I2C())
        self._buffer = bytearray(12)
        self._register = bytes([_OUTX_L_G])
        self._vbat = analogio.AnalogIn(board.VOLTAGE_MONITOR)
        self._button = digitalio.DigitalInOut(board.SWITCH)
        self._button.switch_to_input(pull=digitalio.Pull.UP)

    def configure_imu(self, rate_hz: int, acc_range_g: int, gyr_range_dps: int) -> None:
        imu = self._imu
        imu.accelerometer_range = getattr(AccelRange, "RANGE_%dG" % acc_range_g)
        imu.gyro_range = getattr(GyroRange, "RANGE_%d_DPS" % gyr_range_dps)
        odr = getattr(Rate, ODR_FOR_RATE[rate_hz])
        imu.accelerometer_data_rate = odr
        imu.gyro_data_rate = odr

    def read_raw(self) -> "tuple[tuple[int, ...], tuple[int, ...]]":
        """(accelerometer, gyroscope) raw counts, read in one I2C transaction."""
        with self._imu.i2c_device as device:
            device.write_then_readinto(self._register, self._buffer)
        gx, gy, gz, ax, ay, az = struct.unpack("<6h", self._buffer)
        return (ax, ay, az), (gx, gy, gz)

    def battery_volts(self) -> float:
        return self._vbat.value / 65535 * self._vbat.reference_voltage * _DIVIDER

    def pairing_button_pressed(self) -> bool:
        return not self._button.value  # the switch pulls the pin low
