"""What the simulated vendor sensors share on top of :class:`SimulatedDevice`.

A vendor's firmware (WitMotion, Movesense, Polar, MetaMotion, Thingy:52) holds some state of its
own, builds one GATT database, advertises, and sends every sample notification on one data
characteristic; most take commands on a write characteristic and answer on that same data
characteristic. :class:`VendorDevice` builds those parts once, so a vendor module holds only
what its protocol says: its commands, its state and how it frames samples.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, TypedDict, Unpack

from bumble import data_types
from bumble.core import UUID
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service

from firmware_sim import protocol as p
from firmware_sim.peripheral import Faults, SimulatedDevice, SourceFactory

CommandHandler = Callable[[Connection, bytes], None]


class DeviceOptions(TypedDict, total=False):
    """What :class:`SimulatedDevice` takes beside the bumble device and the sample source."""

    faults: Faults
    clock_drift_ppm: float
    seed: int


@dataclass(frozen=True, slots=True)
class ProductInfo:
    """What the Device Information service says (with the device's own serial number)."""

    manufacturer: str
    model: str
    firmware: str


class VendorDevice(SimulatedDevice):
    """A vendor's simulated sensor: :meth:`_setup` makes its state, :meth:`_build_gatt` its
    database (with :meth:`_data_characteristic` for the samples), then it advertises."""

    product: ClassVar[ProductInfo | None] = None  # None: no Device Information service
    data_char: Characteristic[bytes]  # where samples (and command answers) are notified

    def __init__(
        self, device: Device, source_factory: SourceFactory, **options: Unpack[DeviceOptions]
    ) -> None:
        super().__init__(device, source_factory, **options)
        self.serial = ""
        self.subscribed = False  # the client has data notifications on
        self._has_battery_service = False
        self._setup(options.get("seed", 0))
        self._build_gatt()

    def _setup(self, seed: int) -> None:
        """The firmware's own state as it powers up (before the GATT database is built)."""

    def _build_gatt(self) -> None:
        raise NotImplementedError

    @property
    def streaming(self) -> bool:
        return self._stream_task is not None

    # --- GATT pieces ---------------------------------------------------------------------------

    def _command_characteristic(self, uuid: str, on_write: CommandHandler) -> Characteristic[bytes]:
        """A write-only command characteristic (with or without response, as vendors allow)."""
        props = Characteristic.Properties
        return Characteristic(
            uuid,
            props.WRITE | props.WRITE_WITHOUT_RESPONSE,
            Characteristic.WRITEABLE,
            CharacteristicValue(read=self._reject_read, write=on_write),
        )

    def _data_characteristic(self, uuid: str) -> Characteristic[bytes]:
        """The notify-only characteristic the samples go out on (kept as :attr:`data_char`)."""
        self.data_char = Characteristic(
            uuid,
            Characteristic.Properties.NOTIFY,
            Characteristic.READABLE,
            CharacteristicValue(read=self._reject_read, write=self._reject_write),
        )
        return self.data_char

    def _add_services(self, services: list[Service], *, battery: bool = False) -> None:
        """The vendor's own services, then the standard ones it has: Battery (its level
        notified as it drains) and Device Information (from :attr:`product`)."""
        standard = []
        if battery:
            self._has_battery_service = True
            standard.append(self._battery_service())
        if self.product is not None:
            info = self.product
            fields = (info.manufacturer, info.model, self.serial, info.firmware)
            uuids = (
                p.MANUFACTURER_NAME_UUID,
                p.MODEL_NUMBER_UUID,
                p.SERIAL_NUMBER_UUID,
                p.FIRMWARE_REVISION_UUID,
            )
            standard.append(self._device_info_service(list(zip(uuids, fields, strict=True))))
        self.device.add_services([*services, *standard])

    def _on_battery_change(self, connection: Connection, percent: int) -> None:
        if self._has_battery_service:
            self._notify_battery_level(connection, percent)

    def _advertise_as(self, service_uuid: str | None = None) -> None:
        """Advertise the name, and ``service_uuid`` when the vendor's firmware puts one in.

        Beside a 128-bit UUID a legacy advertisement has room for 8 characters of the name (and
        bumble's virtual controller echoes the advertisement as the scan response, so the name
        has to ride in the advertisement itself)."""
        name = data_types.CompleteLocalName
        if service_uuid is None:
            self._listen([name(self.device.name)])
            return
        uuids = data_types.CompleteListOf128BitServiceUUIDs([UUID(service_uuid)])
        self._listen([uuids, name(self.device.name[:8])])

    # --- streaming -----------------------------------------------------------------------------

    def _start(self, connection: Connection) -> None:
        """Begin streaming as the firmware is configured (devices streaming on subscription)."""
        raise NotImplementedError

    def _stop_streaming_now(self) -> None:
        if self._stream_task is not None:
            self._stream_task.cancel()
            self._stream_task = None

    def _restart_stream(self, connection: Connection) -> None:
        """A setting the stream depends on changed: if streaming, carry on in the new shape."""
        if self._stream_task is not None:
            self._stop_streaming_now()
            self._start(connection)

    def _stream_while_subscribed(self) -> None:
        """Stream whenever the client has notifications on, as devices with no start command
        do."""
        self.data_char.on(self.data_char.EVENT_SUBSCRIPTION, self._on_subscription)

    def _on_subscription(self, _bearer: object, notify_enabled: bool, _indicate: bool) -> None:
        self.subscribed = notify_enabled
        connection = self._connection
        if notify_enabled and self._stream_task is None and connection is not None:
            self._start(connection)
        elif not notify_enabled:
            self._stop_streaming_now()

    def _on_link_down(self) -> None:
        self.subscribed = False

    async def _send(self, connection: Connection, payload: bytes) -> None:
        await self.device.notify_subscriber(connection, self.data_char, payload)

    def _answer(self, connection: Connection, payload: bytes) -> None:
        """Notify an answer to a command after the write has been acknowledged."""

        async def send() -> None:
            with contextlib.suppress(Exception):  # the link may already be gone
                await self._send(connection, payload)

        asyncio.get_running_loop().create_task(send())


__all__ = ["CommandHandler", "DeviceOptions", "ProductInfo", "VendorDevice"]
