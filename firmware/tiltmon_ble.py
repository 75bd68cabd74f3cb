"""The tiltmon GATT service as adafruit_ble declares it (CircuitPython only).

Notifications on IMU data and the configuration go out when their value is set; the control
point is bound to a ``_bleio.PacketBuffer`` so that every write arrives as its own packet (two
identical requests are two requests) and answers go back as indications.
"""

import _bleio
from adafruit_ble.attributes import Attribute
from adafruit_ble.characteristics import Characteristic, ComplexCharacteristic
from adafruit_ble.services import Service
from adafruit_ble.uuid import VendorUUID
from tiltmon_fw import profile as p

# Version 1 of the profile: open to any host in range. Version 2 (docs/protocol.md, the private
# link) needs an encrypted link from a bonded host; code.py picks one when it builds the service.
OPEN = Attribute.OPEN
PRIVATE = Attribute.ENCRYPT_NO_MITM  # Just Works: the clip has no display or keys


class _ControlPointCharacteristic(ComplexCharacteristic):
    def __init__(self, perm: int) -> None:
        super().__init__(
            uuid=VendorUUID(p.CONTROL_POINT_UUID),
            properties=Characteristic.WRITE | Characteristic.INDICATE,
            read_perm=Attribute.NO_ACCESS,
            write_perm=perm,
            max_length=20,
            fixed_length=False,
        )

    def bind(self, service: Service) -> "_bleio.PacketBuffer":
        bound = super().bind(service)
        return _bleio.PacketBuffer(bound, buffer_size=4)


def tiltmon_service_class(perm: int = OPEN) -> type:
    """The service class with ``perm`` on the IMU data, configuration and control point."""

    class TiltmonService(Service):
        uuid = VendorUUID(p.IMU_SERVICE_UUID)
        imu_data = Characteristic(
            uuid=VendorUUID(p.IMU_DATA_UUID),
            properties=Characteristic.READ | Characteristic.NOTIFY,
            read_perm=perm,
            write_perm=Attribute.NO_ACCESS,
            max_length=p.IMU_HEADER_SIZE + p.MAX_SAMPLES_PER_PACKET * p.SAMPLE_SIZE,
            fixed_length=False,
        )
        configuration = Characteristic(
            uuid=VendorUUID(p.CONFIG_UUID),
            properties=Characteristic.READ | Characteristic.NOTIFY,
            read_perm=perm,
            write_perm=Attribute.NO_ACCESS,
            max_length=9,
            fixed_length=True,
        )
        control_point = _ControlPointCharacteristic(perm)
        if perm != OPEN:  # version 2 says so in a characteristic anyone may read
            security = Characteristic(
                uuid=VendorUUID(p.SECURITY_UUID),
                properties=Characteristic.READ,
                read_perm=Attribute.OPEN,
                write_perm=Attribute.NO_ACCESS,
                max_length=4,
                fixed_length=True,
            )

    return TiltmonService
