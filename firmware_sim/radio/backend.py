"""bleak backend classes on the virtual radio (bleak 3.x ``BaseBleakScanner``/``BaseBleakClient``).

Application code keeps using ``BleakScanner(..., backend=...)`` and
``BleakClient(..., backend=...)`` unchanged; underneath, every scan, connection, MTU exchange,
discovery, read, write, notification and indication is real bumble HCI/LL/ATT traffic.
Behaviour follows bleak's BlueZ backend where backends differ:

* the disconnected callback fires on every disconnection, the client's own included;
* advertisement data accumulates per device during a scan (advertisements + scan responses);
* notifications are preferred over indications when a characteristic offers both
  (``force_indicate=True`` asks for indications, as in bleak's WinRT backend);
* ATT error responses raise :class:`~bleak.exc.BleakGATTProtocolError`; a link lost during a
  GATT operation raises :class:`~bleak.exc.BleakError` at once instead of waiting 30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid as _uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar, Literal, TypeVar

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CHARACTERISTIC_PROPERTIES, CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError, BleakGATTProtocolError
from bumble import att, hci
from bumble import core as bumble_core
from bumble.core import BaseBumbleError
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt import GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR, Characteristic
from bumble.gatt_client import CharacteristicProxy, ServiceProxy

from firmware_sim.radio._ad import AdvertisementAccumulator
from firmware_sim.radio._controller import CONNECTION_TIMEOUT, drop_stale_connection
from firmware_sim.radio.core import VirtualRadio, address_key, context_radio, current_radio

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: ATT_MTU before (or without) an MTU exchange.
ATT_DEFAULT_MTU = 23
#: How long disconnect() waits for the controller before giving up on the peer.
DISCONNECT_TIMEOUT = 2.0
#: ATT errors that ask for a secured link.
_SECURITY_ERRORS = frozenset(
    {
        int(att.ErrorCode.INSUFFICIENT_AUTHENTICATION),
        int(att.ErrorCode.INSUFFICIENT_ENCRYPTION),
    }
)
#: How many characteristic-property bits GATT declares (extended ones live in a descriptor).
_DECLARED_PROPERTY_BITS = 0xFF


def bleak_uuid(uuid: bumble_core.UUID) -> str:
    """A bumble UUID as bleak spells UUIDs (full 128-bit, lowercase)."""
    return str(_uuid.UUID(bytes=bytes(reversed(uuid.to_bytes(force_128=True)))))


def bleak_properties(properties: int) -> list[CharacteristicPropertyName]:
    return [
        name
        for bit, name in CHARACTERISTIC_PROPERTIES.items()
        if bit & _DECLARED_PROPERTY_BITS and properties & bit
    ]


# =========================================================================================
# Scanner
# =========================================================================================
class BumbleScanner(BaseBleakScanner):
    """bleak scanner backend on a :class:`VirtualRadio`.

    Use ``radio.scanner_backend`` (bound to that radio) or this class itself (the radio made
    current with ``radio.use()``, else the default ``$TILTMON_RADIO`` radio).
    """

    _bound_radio: ClassVar[VirtualRadio | None] = None

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._active = scanning_mode != "passive"
        self._radio: VirtualRadio | None = self._bound_radio or context_radio()
        self._accumulators: dict[str, AdvertisementAccumulator] = {}
        self._scanning = False

    @property
    def radio(self) -> VirtualRadio:
        if self._radio is None:
            self._radio = current_radio()
        return self._radio

    async def start(self) -> None:
        if self._scanning:
            return
        radio = self.radio
        self.seen_devices = {}
        self._accumulators = {}
        await radio.ensure_open()
        radio.add_advertisement_listener(self, self._on_advertisement)
        try:
            await radio.start_scanning(self, active=self._active)
        except BaseException:
            radio.remove_advertisement_listener(self)
            raise
        self._scanning = True

    async def stop(self) -> None:
        if not self._scanning:
            return
        self._scanning = False
        radio = self.radio
        radio.remove_advertisement_listener(self)
        await radio.stop_scanning(self)

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        key = self.radio.bleak_address(advertisement.address)
        accumulator = self._accumulators.setdefault(key, AdvertisementAccumulator())
        accumulator.update((int(t), bytes(d)) for t, d in advertisement.data.ad_structures)
        if not self.is_allowed_uuid(accumulator.service_uuids):
            return
        data = accumulator.snapshot(advertisement.rssi, (advertisement,))
        device = self.create_or_update_device(
            key, key, accumulator.local_name, advertisement.address, data
        )
        self.call_detection_callbacks(device, data)


# =========================================================================================
# Client
# =========================================================================================
class BumbleClient(BaseBleakClient):
    """bleak client backend on a :class:`VirtualRadio`.

    Use ``radio.client_backend`` or this class itself (see :class:`BumbleScanner`). Extra
    keyword argument: ``att_mtu`` (default: the radio's, 247) for the MTU exchange.
    """

    _bound_radio: ClassVar[VirtualRadio | None] = None

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        services: Iterable[str] | None = None,
        att_mtu: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._radio: VirtualRadio | None = self._bound_radio or context_radio()
        self._peer_address: hci.Address | None = None
        self._device_name: str | None = None
        if isinstance(address_or_ble_device, BLEDevice):
            self._device_name = address_or_ble_device.name
            if isinstance(address_or_ble_device.details, hci.Address):
                self._peer_address = address_or_ble_device.details
        self._service_filter = None if services is None else {s.lower() for s in services}
        self._att_mtu = att_mtu
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._link_lost: asyncio.Future[int] | None = None
        self._subscriptions: dict[int, Callable[[bytes], None]] = {}
        self._teardown_task: asyncio.Future[None] | None = None
        self._connecting = asyncio.Lock()

    # ------------------------------------------------------------------------ properties
    @property
    def radio(self) -> VirtualRadio:
        if self._radio is None:
            self._radio = current_radio()
        return self._radio

    @property
    def name(self) -> str:
        return self._device_name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        connection = self._connection
        return int(connection.att_mtu) if connection is not None else ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    # ------------------------------------------------------------------------ connection
    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, exchange the ATT MTU, discover services (and pair if asked).

        ``timeout`` (seconds, default: the client's) bounds the whole procedure and raises
        ``TimeoutError``, as bleak's backends do.
        """
        async with self._connecting:  # a second concurrent connect() waits for the first
            if self._connection is None:
                async with asyncio.timeout(float(kwargs.get("timeout", self._timeout))):
                    await self._connect(pair)

    async def _connect(self, pair: bool) -> None:
        radio = self.radio
        connection: Connection | None = None
        try:
            await radio.ensure_open()
            if self._peer_address is None:
                self._peer_address = await radio.resolve_address(self.address)
            try:
                connection = await radio.connect(self._peer_address)
            except BaseBumbleError as error:
                raise BleakError(f"{self.address}: connection failed: {error}") from error
            self._attach(connection)
            peer = Peer(connection)
            self._peer = peer
            mtu = self._att_mtu if self._att_mtu is not None else radio.att_mtu
            if mtu > ATT_DEFAULT_MTU:
                await self._gatt(peer.request_mtu(mtu))
            self.services = await self._gatt(self._discover(peer))
            if pair:
                await self.pair()
        except BaseException:
            if connection is not None:  # half-open: take the link down again
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._teardown(connection))
            raise

    def _attach(self, connection: Connection) -> None:
        loop = asyncio.get_running_loop()
        self._connection = connection
        self._link_lost = loop.create_future()
        self._subscriptions = {}
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)

    def _on_disconnection(self, reason: int) -> None:
        connection = self._connection
        if connection is None:
            return
        connection.remove_listener(Connection.EVENT_DISCONNECTION, self._on_disconnection)
        logger.debug("%s: disconnected, reason 0x%02X", self.address, reason)
        self._connection = None
        self._peer = None
        self.services = None
        self._subscriptions = {}
        if self._link_lost is not None and not self._link_lost.done():
            self._link_lost.set_result(reason)
        callback = self._disconnected_callback
        if callback is not None:
            try:
                callback()
            except Exception:  # never let user code break bumble's event dispatch
                logger.exception("disconnected_callback failed")

    async def disconnect(self) -> None:
        """Disconnect; returns quietly when already disconnected or when the peer vanished."""
        connection = self._connection
        if connection is None:
            return
        task = self._teardown_task
        if task is None or task.done():  # concurrent callers share one teardown
            task = self._teardown_task = asyncio.ensure_future(self._teardown(connection))
        await asyncio.shield(task)

    async def _teardown(self, connection: Connection) -> None:
        lost = self._link_lost
        try:
            async with asyncio.timeout(DISCONNECT_TIMEOUT):
                await connection.disconnect(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)
                if lost is not None:
                    await asyncio.shield(lost)
        except (TimeoutError, BaseBumbleError, OSError) as error:
            # The controller could not reach the peer (its radio vanished, or the HCI
            # transport is gone): give the connection up locally, like a supervision timeout.
            logger.info("%s: disconnect not confirmed (%r); dropping the link", self.address, error)
            radio_device = self._radio_device()
            if radio_device is not None and drop_stale_connection(
                radio_device, connection.handle, CONNECTION_TIMEOUT
            ):
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(DISCONNECT_TIMEOUT):
                        if lost is not None:
                            await asyncio.shield(lost)
        if self._connection is connection:  # nobody reported the disconnection: do it here
            self._on_disconnection(CONNECTION_TIMEOUT)

    def _radio_device(self) -> Device | None:
        radio = self._radio
        if radio is None or not radio.is_open:
            return None
        return radio.device

    async def pair(self, *args: Any, passkey: int | None = None, **kwargs: Any) -> None:
        """Secure the link: with the stored keys if the peer is bonded, else by pairing (LE
        Secure Connections) and storing the bond, as BlueZ does. ``passkey``: the 6 digits a
        sensor that asks for passkey entry shows on its label (BlueZ asks its agent instead);
        without one such a sensor is declined.

        A peer that refuses (pairing failed, or a bond it no longer has) raises
        :class:`~bleak.exc.BleakError` naming the reason.
        """
        connection = self._require_connection()
        if connection.is_encrypted:
            return
        if await self._stored_keys(connection) is not None:
            try:
                await self._gatt(connection.encrypt())
            except BleakError as error:
                raise BleakError(
                    f"{self.address}: the sensor did not accept our bond ({error}); "
                    "it may have been reset or paired with another host"
                ) from error
            return
        try:
            with self.radio.typed_passkey(connection, passkey):
                await self._gatt(connection.pair())
        except BleakError as error:
            raise BleakError(f"{self.address}: pairing refused ({error})") from error
        # A peer met under a resolvable private address is known by its identity address from
        # now on (bumble resolved it with the identity key just received), as BlueZ renames it.
        self.address = address_key(connection.peer_address)

    async def _stored_keys(self, connection: Connection) -> Any:
        keystore = self.radio.device.keystore if self.radio.is_open else None
        if keystore is None:
            return None
        return await keystore.get(str(connection.peer_address))

    async def _secured(self, operation: Callable[[], Awaitable[_T]]) -> _T:
        """Run a GATT operation; if the peer wants an encrypted link and we hold its keys,
        encrypt and try once more (BlueZ raises the security level the same way)."""
        try:
            return await self._gatt(operation())
        except BleakGATTProtocolError as error:
            connection = self._connection
            if (
                error.code not in _SECURITY_ERRORS
                or connection is None
                or connection.is_encrypted
                or await self._stored_keys(connection) is None
            ):
                raise
            try:
                await self.pair()
            except BleakError:
                raise error from None  # as BlueZ does: the caller sees the ATT error
            return await self._gatt(operation())

    async def unpair(self) -> None:
        """Forget the peer's keys (if any) and disconnect, as bleak's backends do."""
        radio = self.radio
        keystore = radio.device.keystore if radio.is_open else None
        if keystore is not None:
            # Its keys are filed under its identity address (the link's peer, once resolved).
            named = {self._peer_address, getattr(self._connection, "peer_address", None)}
            for address in named - {None}:
                with contextlib.suppress(KeyError, BaseBumbleError):
                    await keystore.delete(str(address))
        await self.disconnect()

    # ------------------------------------------------------------------------ discovery
    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        await peer.discover_services()
        wanted = [
            service
            for service in peer.services
            if self._service_filter is None or bleak_uuid(service.uuid) in self._service_filter
        ]
        for service in wanted:
            await peer.discover_characteristics(service=service)
        for service in wanted:
            for characteristic in service.characteristics:
                await peer.discover_descriptors(characteristic=characteristic)
        return self._collection(wanted)

    def _collection(self, services: list[ServiceProxy]) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        for service in services:
            bleak_service = BleakGATTService(service, service.handle, bleak_uuid(service.uuid))
            collection.add_service(bleak_service)
            for characteristic in service.characteristics:
                bleak_char = BleakGATTCharacteristic(
                    characteristic,
                    characteristic.handle,
                    bleak_uuid(characteristic.uuid),
                    bleak_properties(int(characteristic.properties)),
                    self._max_write_without_response_size,
                    bleak_service,
                )
                collection.add_characteristic(bleak_char)
                for descriptor in characteristic.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor, descriptor.handle, bleak_uuid(descriptor.type), bleak_char
                        )
                    )
        return collection

    def _max_write_without_response_size(self) -> int:
        return self.mtu_size - 3

    # ------------------------------------------------------------------------ GATT I/O
    def _require_connection(self) -> Connection:
        if self._connection is None:
            raise BleakError(f"{self.address}: not connected")
        return self._connection

    def _require_peer(self) -> Peer:
        self._require_connection()
        assert self._peer is not None
        return self._peer

    async def _gatt(self, operation: Awaitable[_T]) -> _T:
        """Run one GATT operation; map ATT errors, and fail fast if the link drops meanwhile."""
        lost = self._link_lost
        task = asyncio.ensure_future(operation)
        try:
            if lost is None:
                return await task
            racing: list[asyncio.Future[Any]] = [task, lost]
            await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                raise BleakError(
                    f"{self.address}: disconnected (reason 0x{lost.result():02X}) "
                    "during a GATT operation"
                )
            return task.result()
        except att.ATT_Error as error:
            raise BleakGATTProtocolError(int(error.error_code)) from error
        except BaseBumbleError as error:
            raise BleakError(f"{self.address}: {error}") from error
        finally:
            if not task.done():
                task.cancel()

    async def read_gatt_char(
        self,
        characteristic: BleakGATTCharacteristic,
        *,
        use_cached: bool = False,
        **kwargs: Any,
    ) -> bytearray:
        peer = self._require_peer()
        if use_cached and (cached := peer.gatt_client.cached_values.get(characteristic.handle)):
            return bytearray(cached[1])
        return bytearray(await self._secured(lambda: peer.read_value(characteristic.obj)))

    async def read_gatt_descriptor(
        self,
        descriptor: BleakGATTDescriptor,
        *,
        use_cached: bool = False,
        **kwargs: Any,
    ) -> bytearray:
        peer = self._require_peer()
        if use_cached and (cached := peer.gatt_client.cached_values.get(descriptor.handle)):
            return bytearray(cached[1])
        return bytearray(await self._gatt(peer.read_value(descriptor.handle)))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        peer = self._require_peer()
        value = bytes(data)
        await self._secured(
            lambda: peer.write_value(characteristic.obj, value, with_response=response)
        )

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        peer = self._require_peer()
        await self._gatt(peer.write_value(descriptor.handle, bytes(data), with_response=True))

    async def start_notify(
        self,
        characteristic: BleakGATTCharacteristic,
        callback: NotifyCallback,
        **kwargs: Any,
    ) -> None:
        """Subscribe; notifications when offered, else indications (``force_indicate=True``)."""
        peer = self._require_peer()
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        props = int(proxy.properties)
        can_notify = bool(props & Characteristic.Properties.NOTIFY)
        can_indicate = bool(props & Characteristic.Properties.INDICATE)
        if not (can_notify or can_indicate):
            raise BleakError(f"{characteristic.uuid} supports neither notify nor indicate")
        if proxy.get_descriptor(GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR) is None:
            raise BleakError(f"{characteristic.uuid} has no CCCD to subscribe with")
        if characteristic.handle in self._subscriptions:
            raise BleakError(f"notifications are already started on {characteristic.uuid}")
        prefer_notify = can_notify and not (kwargs.get("force_indicate", False) and can_indicate)

        def on_value(value: bytes) -> None:
            try:
                callback(bytearray(value))
            except Exception:  # keep bumble's dispatch alive; the app sees it in the log
                logger.exception("notification callback failed")

        self._subscriptions[characteristic.handle] = on_value
        try:
            await self._secured(lambda: peer.gatt_client.subscribe(proxy, on_value, prefer_notify))
        except BaseException:
            self._subscriptions.pop(characteristic.handle, None)
            raise

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer = self._require_peer()
        on_value = self._subscriptions.pop(characteristic.handle, None)
        if on_value is None:
            raise BleakError(f"notifications are not started on {characteristic.uuid}")
        await self._gatt(peer.gatt_client.unsubscribe(characteristic.obj, on_value))


# =========================================================================================
# Binding backend classes to a radio
# =========================================================================================
def bind_scanner(radio: VirtualRadio) -> type[BumbleScanner]:
    """A :class:`BumbleScanner` subclass that always uses ``radio``."""

    class BoundScanner(BumbleScanner):
        _bound_radio = radio

    BoundScanner.__name__ = BoundScanner.__qualname__ = "BumbleScanner"
    return BoundScanner


def bind_client(radio: VirtualRadio) -> type[BumbleClient]:
    """A :class:`BumbleClient` subclass that always uses ``radio``."""

    class BoundClient(BumbleClient):
        _bound_radio = radio

    BoundClient.__name__ = BoundClient.__qualname__ = "BumbleClient"
    return BoundClient
