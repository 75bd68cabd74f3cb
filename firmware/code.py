"""tiltmon DIY clip: CircuitPython main program (docs/firmware.md).

Copy this file, ``tiltmon_ble.py``, the ``board_*.py`` files and the ``tiltmon_fw`` folder to
the CIRCUITPY drive, and the libraries docs/firmware.md lists to ``CIRCUITPY/lib``. Everything
the protocol decides lives in ``tiltmon_fw`` (tested on the desktop against the client); this
file only wires it to the radio, the IMU and the battery ADC.
"""

import time

import board
import microcontroller
from adafruit_ble import BLERadio
from adafruit_ble.advertising.standard import ProvideServicesAdvertisement
from adafruit_ble.services.standard import BatteryService
from adafruit_ble.services.standard.device_info import DeviceInfoService
from tiltmon_ble import OPEN, PRIVATE, tiltmon_service_class
from tiltmon_fw import FIRMWARE_VERSION, control
from tiltmon_fw import profile as p
from tiltmon_fw.battery import BatteryGauge
from tiltmon_fw.packets import encode_config
from tiltmon_fw.pairing import LinkGuard, PairingWindow, encode_security
from tiltmon_fw.scaling import Scaler
from tiltmon_fw.stream import Streamer

NAME = "tiltmon"  # at most 8 characters beside the 128-bit UUID in one advertisement
# Profile version 2 (docs/protocol.md): IMU data, configuration and control point only over an
# encrypted link. CircuitPython accepts every pairing request, so the pairing window is
# advisory here (published, and it lets a host stay unencrypted); see docs/reliability.md.
PRIVATE_LINK = True
BATTERY_EVERY_US = 10000000


def _board() -> object:
    if board.board_id == "Seeed_XIAO_nRF52840_Sense":
        import board_xiao_sense

        return board_xiao_sense.Board()
    import board_feather_sense

    return board_feather_sense.Board()


def now_us() -> int:
    return time.monotonic_ns() // 1000


def main() -> None:
    hw = _board()
    settings = control.Settings()
    cp = control.ControlPoint(settings)
    gauge = BatteryGauge()
    gauge.update(hw.battery_volts())

    service = tiltmon_service_class(PRIVATE if PRIVATE_LINK else OPEN)()
    window = PairingWindow(now_us())
    guard = LinkGuard()
    security = b""
    battery = BatteryService()
    battery.level = gauge.level
    DeviceInfoService(  # registers itself with the adapter; nothing to keep
        manufacturer="tiltmon project",
        model_number=hw.model,
        serial_number=microcontroller.cpu.uid.hex(),
        hardware_revision=hw.hardware,
        firmware_revision=FIRMWARE_VERSION,
    )
    service.configuration = encode_config(settings)
    hw.configure_imu(settings.rate_hz, settings.acc_range_g, settings.gyr_range_dps)

    ble = BLERadio()
    ble.name = NAME
    advertisement = ProvideServicesAdvertisement(service)
    advertisement.complete_name = NAME
    request = bytearray(20)
    sequence = 0  # runs on across connections, resets only at power-on
    next_battery = now_us() + BATTERY_EVERY_US

    if PRIVATE_LINK:
        security = encode_security(True, False)
        service.security = security

    while True:
        while not ble.connected:  # advertising; the button opens the pairing window
            now = now_us()
            if not ble.advertising:
                ble.start_advertising(advertisement, interval=0.1)
            if hw.pairing_button_pressed():
                window.press(now)
            if now >= next_battery:
                next_battery = now + BATTERY_EVERY_US
                if gauge.update(hw.battery_volts()):
                    battery.level = gauge.level
            time.sleep(0.05)
        streamer = None
        scaler = None
        guard.connected(now_us())
        was_encrypted = False
        while ble.connected:
            now = now_us()
            if hw.pairing_button_pressed():
                window.press(now)
            if PRIVATE_LINK:
                encrypted = bool(ble.connections) and ble.connections[0].paired
                if encrypted and not was_encrypted and window.is_open(now):
                    window.paired()  # one host per press of the button
                was_encrypted = encrypted
                if guard.should_drop(now, encrypted, window.is_open(now)):
                    ble.connections[0].disconnect()
                    break
                value = encode_security(window.is_open(now), encrypted)
                if value != security:
                    security = value
                    service.security = value
            size = service.control_point.readinto(request)
            if size:
                att_mtu = service.control_point.outgoing_packet_length + p.ATT_HEADER_SIZE
                answer, action = cp.handle(bytes(request[:size]), att_mtu)
                if action == control.START:
                    scaler = Scaler(settings.acc_range_g, settings.gyr_range_dps)
                    streamer = Streamer(
                        settings.rate_hz, settings.samples_per_packet, True, now, sequence
                    )
                elif action == control.STOP and streamer is not None:
                    sequence, streamer = streamer.sequence, None
                elif action == control.RECONFIGURE:
                    hw.configure_imu(settings.rate_hz, settings.acc_range_g, settings.gyr_range_dps)
                if action != control.NOTHING:
                    service.configuration = encode_config(settings)
                service.control_point.write(answer)
            if streamer is not None and scaler is not None and streamer.due(now):
                raw_acc, raw_gyr = hw.read_raw()
                packet = streamer.add(scaler.counts(raw_acc, raw_gyr), now_us())
                if packet is not None:
                    service.imu_data = packet
            if now >= next_battery:
                next_battery = now + BATTERY_EVERY_US
                if gauge.update(hw.battery_volts()):
                    battery.level = gauge.level
            if streamer is None:
                time.sleep(0.01)
            else:  # sleep until the next sample, leaving a millisecond for the loop itself
                wait = streamer.next_due_us() - now_us() - 1000
                if wait > 0:
                    time.sleep(wait / 1000000)
        # The link is gone: streaming ends, the client starts it again after reconnecting.
        guard.disconnected()
        if streamer is not None:
            sequence = streamer.sequence
        if cp.link_lost() != control.NOTHING:
            service.configuration = encode_config(settings)


main()
