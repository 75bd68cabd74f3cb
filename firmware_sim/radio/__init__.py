"""The virtual radio: bleak, unchanged, over Google's bumble Bluetooth stack, no hardware.

In one process::

    link = LocalLink()
    sensor = new_peripheral_device(link, "PelvTilt")     # attach a GATT server, advertise
    async with VirtualRadio(link=link) as radio:
        device = await BleakScanner.find_device_by_name("PelvTilt", backend=radio.scanner_backend)
        async with BleakClient(device, backend=radio.client_backend) as client:
            ...

Across processes: ``async with serve_link() as served:`` hosts the link (peripherals attach to
``served.link``) and a client process runs with ``TILTMON_RADIO=tcp-client:127.0.0.1:PORT``
(``served.transport_spec``), passing ``backend=BumbleScanner`` / ``backend=BumbleClient``.

See docs/virtual-radio.md.
"""

from firmware_sim.radio._ad import AdvertisementAccumulator
from firmware_sim.radio._controller import CONNECTION_TIMEOUT, REMOTE_USER_TERMINATED
from firmware_sim.radio.backend import BumbleClient, BumbleScanner
from firmware_sim.radio.core import (
    DEFAULT_ATT_MTU,
    RADIO_ENV_VAR,
    VirtualRadio,
    close_default_radio,
    context_radio,
    current_radio,
    default_radio,
)
from firmware_sim.radio.link import (
    ServedLink,
    new_peripheral_device,
    remove_peripheral_device,
    serve_link,
)

__all__ = [
    "CONNECTION_TIMEOUT",
    "DEFAULT_ATT_MTU",
    "RADIO_ENV_VAR",
    "REMOTE_USER_TERMINATED",
    "AdvertisementAccumulator",
    "BumbleClient",
    "BumbleScanner",
    "ServedLink",
    "VirtualRadio",
    "close_default_radio",
    "context_radio",
    "current_radio",
    "default_radio",
    "new_peripheral_device",
    "remove_peripheral_device",
    "serve_link",
]
