"""The control point (docs/protocol.md): the clip's settings and what each request does to them.

Sans-I/O: the board loop hands over each written value and the link's ATT MTU, indicates the
answer this returns, and acts on the returned action (start or stop the sampler, reconfigure
the IMU, notify the configuration).
"""

import struct

from tiltmon_fw import profile as p
from tiltmon_fw.packets import samples_per_packet

# What the board loop has to do after a request.
NOTHING = 0
START = 1  # build a Streamer from the settings and start sampling
STOP = 2  # stop sampling
RECONFIGURE = 3  # apply the new rate or ranges to the IMU (and notify the configuration)


class Settings:
    """What the configuration characteristic publishes."""

    def __init__(
        self,
        rate_hz: int = 100,
        acc_range_g: int = 8,
        gyr_range_dps: int = 500,
        has_gyro: bool = True,
    ) -> None:
        self.rate_hz = rate_hz
        self.acc_range_g = acc_range_g
        self.gyr_range_dps = gyr_range_dps
        self.has_gyro = has_gyro
        self.streaming = False
        self.samples_per_packet = 19  # the last value used; fixed again at every start


class ControlPoint:
    """Executes control-point requests on a :class:`Settings`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def handle(self, request: bytes, att_mtu: int) -> "tuple[bytes, int]":
        """(the indication answering ``request``, the action for the board loop)."""
        opcode = request[0] if request else 0
        status, action = self._execute(bytes(request), att_mtu)
        return struct.pack("<BBB", p.RESPONSE_CODE, opcode, status), action

    def link_lost(self) -> int:
        """A lost link ends streaming (the client starts it again after reconnecting)."""
        if self.settings.streaming:
            self.settings.streaming = False
            return STOP
        return NOTHING

    def _execute(self, request: bytes, att_mtu: int) -> "tuple[int, int]":
        if not request:
            return p.MALFORMED, NOTHING
        opcode, params = request[0], request[1:]
        if opcode not in p.OPCODES:
            return p.OPCODE_NOT_SUPPORTED, NOTHING
        settings = self.settings
        if opcode == p.OP_START_STREAMING or opcode == p.OP_STOP_STREAMING:
            if params:
                return p.MALFORMED, NOTHING
            if opcode == p.OP_STOP_STREAMING:
                if not settings.streaming:
                    return p.SUCCESS, NOTHING
                settings.streaming = False
                return p.SUCCESS, STOP
            if settings.streaming:
                return p.SUCCESS, NOTHING
            settings.samples_per_packet = samples_per_packet(att_mtu, settings.has_gyro)
            settings.streaming = True
            return p.SUCCESS, START
        if settings.streaming:
            return p.INVALID_STATE, NOTHING  # settings change only while idle
        if opcode == p.OP_SET_RATE:
            if len(params) != 2:
                return p.MALFORMED, NOTHING
            rate = params[0] | params[1] << 8
            if rate not in p.SAMPLE_RATES_HZ:
                return p.INVALID_PARAMETER, NOTHING
            settings.rate_hz = rate
            return p.SUCCESS, RECONFIGURE
        # SET_RANGES
        if len(params) != 3:
            return p.MALFORMED, NOTHING
        acc_g, gyr_dps = params[0], params[1] | params[2] << 8
        if acc_g not in p.ACC_RANGES_G or gyr_dps not in p.GYR_RANGES_DPS:
            return p.INVALID_PARAMETER, NOTHING
        settings.acc_range_g = acc_g
        settings.gyr_range_dps = gyr_dps
        return p.SUCCESS, RECONFIGURE
