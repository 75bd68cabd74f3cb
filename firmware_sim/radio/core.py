"""The virtual radio: one bumble central (host + controller) that bleak backends drive.

A :class:`VirtualRadio` is what a Bluetooth adapter is to BlueZ. Its controller either sits on
a :class:`bumble.link.LocalLink` in this process, next to the simulated peripherals' controllers,
or is reached over a bumble HCI transport (for example ``tcp-client:127.0.0.1:PORT``, served by
:func:`firmware_sim.radio.serve_link` in another process).

bleak instantiates backend classes itself, so a radio hands out backend classes bound to it
(:attr:`VirtualRadio.scanner_backend`, :attr:`VirtualRadio.client_backend`). The unbound
:class:`~firmware_sim.radio.backend.BumbleScanner` / ``BumbleClient`` find their radio at
construction time: the radio made current with :meth:`VirtualRadio.use`, else the default
radio of the running event loop, built from ``$TILTMON_RADIO`` (a bumble transport spec).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import logging
import os
import weakref
from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason, BleakError
from bumble import hci
from bumble.core import BaseBumbleError, PhysicalTransport
from bumble.device import Advertisement, Connection, Device
from bumble.keys import KeyStore
from bumble.link import LocalLink
from bumble.pairing import PairingConfig, PairingDelegate
from bumble.transport import open_transport
from bumble.transport.common import Transport, TransportLostError

from firmware_sim.radio._controller import (
    REMOTE_USER_TERMINATED,
    controller_of,
    new_device_on_link,
    retire_controller,
)
from firmware_sim.radio.keys import PrivateJsonKeyStore, identity_for

if TYPE_CHECKING:
    from firmware_sim.radio.backend import BumbleClient, BumbleScanner

logger = logging.getLogger(__name__)

#: Environment variable naming the default radio's bumble transport spec.
RADIO_ENV_VAR = "TILTMON_RADIO"
#: ATT MTU the radio asks for after connecting (what BlueZ and CoreBluetooth ask for, roughly).
DEFAULT_ATT_MTU = 247
#: How long housekeeping steps (disconnect on close, power-off, cancel) may take at most.
_HOUSEKEEPING_TIMEOUT = 2.0

AdvertisementListener = Callable[[Advertisement], None]


class _State(enum.Enum):
    NEW = "new"
    OPEN = "open"
    LOST = "lost"  # the HCI transport went away under us
    CLOSED = "closed"


class _Keyboard(PairingDelegate):
    """The host's pairing delegate: it types the passkey it was given, or declines (SMP
    Passkey Entry Failed) when a sensor asks for one and none was given."""

    def __init__(self, passkey: int | None) -> None:
        super().__init__(io_capability=PairingDelegate.IoCapability.KEYBOARD_INPUT_ONLY)
        self._passkey = passkey

    async def get_number(self) -> int | None:
        # bumble's SMP reads 0 as "no passkey yet": 000000 is declined like no passkey.
        return self._passkey or None


def address_key(address: hci.Address) -> str:
    """How bleak spells an address: ``AA:BB:CC:DD:EE:FF``, no type suffix."""
    return str(address.to_string(False)).upper()


class VirtualRadio:
    """One bumble central Device on a virtual link or behind an HCI transport.

    Give exactly one of ``link`` (in-process) or ``transport`` (a bumble transport spec such as
    ``"tcp-client:127.0.0.1:9002"``). The radio powers on lazily (first scan or connect) or
    explicitly with :meth:`open` / ``async with``; :meth:`close` disconnects everything,
    releases the controller or transport and is idempotent. A radio belongs to the event loop
    it was opened on.
    """

    def __init__(
        self,
        *,
        link: LocalLink | None = None,
        transport: str | None = None,
        name: str = "tiltmon-central",
        address: hci.Address | str | None = None,
        att_mtu: int = DEFAULT_ATT_MTU,
        open_timeout: float = 5.0,
        keystore: Path | None = None,
    ) -> None:
        if (link is None) == (transport is None):
            raise ValueError("give exactly one of link= or transport=")
        if not 23 <= att_mtu <= 517:
            raise ValueError(f"att_mtu must be within 23..517, not {att_mtu}")
        self.link = link
        self.transport_spec = transport
        self.name = name
        self.address: hci.Address = (
            hci.Address.generate_static_address()
            if address is None
            else address
            if isinstance(address, hci.Address)
            else hci.Address(address)
        )
        self.att_mtu = att_mtu
        self.open_timeout = open_timeout
        # Bonds in a file (owner-only) under the radio's lasting identity address; without
        # one, bonds live as long as the radio (bumble's memory key store).
        self.keystore_path = keystore
        self._keystore: KeyStore | None = None
        if keystore is not None:
            if address is None:
                self.address = identity_for(keystore)
            self._keystore = PrivateJsonKeyStore(str(self.address), keystore)

        self._state = _State.NEW
        self._loop: asyncio.AbstractEventLoop | None = None
        self._device: Device | None = None
        self._transport: Transport | None = None
        self._open_lock: asyncio.Lock | None = None
        self._connect_lock: asyncio.Lock | None = None
        self._scan_lock: asyncio.Lock | None = None
        self._scan_owners: dict[object, bool] = {}  # owner -> wants active scanning
        self._scan_mode: bool | None = None  # None: off, True: active, False: passive
        self._listeners: dict[object, AdvertisementListener] = {}
        self._seen: dict[str, hci.Address] = {}  # bleak address -> bumble address (with type)
        self._address_waiters: dict[str, list[asyncio.Future[hci.Address]]] = {}
        # Passkeys typed for a pairing under way, by connection (LE Secure Connections
        # passkey entry: the host is the keyboard, the sensor's label the display).
        self._passkeys: dict[Connection, int] = {}

    # ------------------------------------------------------------------------------- pairing
    def _pairing_config(self, connection: Connection) -> PairingConfig:
        """A computer's side of pairing: LE Secure Connections, bonding, MITM protection asked
        for; it has a keyboard, so a sensor with a passkey gets passkey entry and one without
        gets Just Works."""
        return PairingConfig(
            sc=True,
            mitm=True,
            bonding=True,
            delegate=_Keyboard(self._passkeys.get(connection)),
        )

    @contextlib.contextmanager
    def typed_passkey(self, connection: Connection, passkey: int | None) -> Iterator[None]:
        """While pairing on ``connection``, answer a passkey request with ``passkey``."""
        if passkey is not None:
            self._passkeys[connection] = passkey
        try:
            yield
        finally:
            self._passkeys.pop(connection, None)

    # ----------------------------------------------------------------------------- factories
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> VirtualRadio:
        """A radio on the transport named by ``$TILTMON_RADIO``."""
        env = os.environ if environ is None else environ
        spec = env.get(RADIO_ENV_VAR, "").strip()
        if not spec:
            raise BleakBluetoothNotAvailableError(
                f"no virtual radio: set {RADIO_ENV_VAR} to a bumble transport spec "
                "(e.g. tcp-client:127.0.0.1:9002) or bind a VirtualRadio explicitly",
                BleakBluetoothNotAvailableReason.NO_BLUETOOTH,
            )
        return cls(transport=spec, **kwargs)

    def __repr__(self) -> str:
        where = f"link={self.link!r}" if self.link is not None else f"{self.transport_spec!r}"
        return f"<VirtualRadio {self.name} {address_key(self.address)} {where} {self._state.value}>"

    # ----------------------------------------------------------------------------- lifecycle
    @property
    def is_open(self) -> bool:
        return self._state is _State.OPEN

    @property
    def is_closed(self) -> bool:
        return self._state is _State.CLOSED

    @property
    def device(self) -> Device:
        """The central bumble Device (for tests and diagnostics; the radio owns it)."""
        return self._require_device()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> Self:
        """Power the radio on (idempotent)."""
        await self.ensure_open()
        return self

    async def ensure_open(self) -> Device:
        """The powered-on central Device, powering it on first if needed."""
        self._bind_loop()
        if self._state is _State.OPEN and self._device is not None:
            return self._device
        assert self._open_lock is not None
        async with self._open_lock:
            if self._state is _State.NEW:
                await self._power_on()
        return self._require_device()

    async def _power_on(self) -> None:
        transport: Transport | None = None
        try:
            if self.link is not None:
                device = new_device_on_link(self.link, self.name, self.address)
            else:
                assert self.transport_spec is not None
                async with asyncio.timeout(self.open_timeout):
                    transport = await open_transport(self.transport_spec)
                device = Device.with_hci(self.name, self.address, transport.source, transport.sink)
            if self._keystore is not None:
                device.keystore = self._keystore
            device.pairing_config_factory = self._pairing_config
            async with asyncio.timeout(self.open_timeout):
                await device.power_on()
        except (OSError, TimeoutError, BaseBumbleError, ValueError) as error:
            if self.link is not None and (controller := controller_of(device)) is not None:
                retire_controller(controller)
            if transport is not None:
                with contextlib.suppress(Exception):
                    await transport.close()
            raise BleakBluetoothNotAvailableError(
                f"{self!r} could not power on: {error!r}",
                BleakBluetoothNotAvailableReason.NO_BLUETOOTH,
            ) from error
        device.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        if transport is not None:
            terminated = getattr(transport.source, "terminated", None)
            if isinstance(terminated, asyncio.Future):
                terminated.add_done_callback(self._on_transport_terminated)
        self._device = device
        self._transport = transport
        self._state = _State.OPEN

    def _on_transport_terminated(self, _future: asyncio.Future[Any]) -> None:
        if self._state is _State.OPEN:
            logger.warning("%r: HCI transport lost", self)
            self._state = _State.LOST
            self._fail_address_waiters()

    async def close(self) -> None:
        """Disconnect all connections, stop scanning and release the controller/transport."""
        if self._state is _State.CLOSED:
            return
        was_open = self._state is _State.OPEN
        self._state = _State.CLOSED
        device, self._device = self._device, None
        transport, self._transport = self._transport, None
        self._fail_address_waiters()
        self._scan_owners.clear()
        self._listeners.clear()
        if device is not None:
            if was_open:
                await self._wind_down(device)
            controller = controller_of(device)
            if controller is not None:
                retire_controller(controller)
        if transport is not None:
            with contextlib.suppress(Exception):
                await transport.close()
            # let the transport's connection_lost callbacks run before the loop moves on
            await asyncio.sleep(0)

    async def _wind_down(self, device: Device) -> None:
        for connection in list(device.connections.values()):
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_HOUSEKEEPING_TIMEOUT):
                    await connection.disconnect(REMOTE_USER_TERMINATED)
        if self._scan_mode is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_HOUSEKEEPING_TIMEOUT):
                    await device.stop_scanning()
            self._scan_mode = None
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_HOUSEKEEPING_TIMEOUT):
                # flushes the host: any connection still listed reports a disconnection
                await device.power_off()

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._state is _State.CLOSED:
            raise BleakBluetoothNotAvailableError(
                f"{self!r} is closed", BleakBluetoothNotAvailableReason.POWERED_OFF
            )
        if self._state is _State.LOST:
            raise BleakBluetoothNotAvailableError(
                f"{self!r}: HCI transport lost", BleakBluetoothNotAvailableReason.NO_BLUETOOTH
            )
        if self._loop is None:
            self._loop = loop
            self._open_lock = asyncio.Lock()
            self._connect_lock = asyncio.Lock()
            self._scan_lock = asyncio.Lock()
        elif self._loop is not loop:
            raise BleakError(f"{self!r} belongs to another event loop")

    def _require_device(self) -> Device:
        if self._state is not _State.OPEN or self._device is None:
            raise BleakBluetoothNotAvailableError(
                f"{self!r} is not open",
                BleakBluetoothNotAvailableReason.POWERED_OFF
                if self._state is _State.CLOSED
                else BleakBluetoothNotAvailableReason.NO_BLUETOOTH,
            )
        return self._device

    # ----------------------------------------------------------------------------- backends
    @cached_property
    def scanner_backend(self) -> type[BumbleScanner]:
        """A :class:`BumbleScanner` subclass bound to this radio, for ``BleakScanner(backend=)``."""
        from firmware_sim.radio.backend import bind_scanner

        return bind_scanner(self)

    @cached_property
    def client_backend(self) -> type[BumbleClient]:
        """A :class:`BumbleClient` subclass bound to this radio, for ``BleakClient(backend=)``."""
        from firmware_sim.radio.backend import bind_client

        return bind_client(self)

    @contextlib.contextmanager
    def use(self) -> Iterator[Self]:
        """Make this the radio that unbound backend classes pick up, within the block."""
        token = _current_radio.set(self)
        try:
            yield self
        finally:
            _current_radio.reset(token)

    # ----------------------------------------------------------------------------- scanning
    def add_advertisement_listener(self, owner: object, listener: AdvertisementListener) -> None:
        """Call ``listener`` with every advertisement the radio reports (while scanning)."""
        self._listeners[owner] = listener

    def remove_advertisement_listener(self, owner: object) -> None:
        self._listeners.pop(owner, None)

    async def start_scanning(self, owner: object, *, active: bool = True) -> None:
        """Scan on behalf of ``owner``; scanning runs while at least one owner wants it."""
        await self.ensure_open()
        self._scan_owners[owner] = active
        try:
            await self._apply_scan_mode()
        except BaseException:
            self._scan_owners.pop(owner, None)
            raise

    async def stop_scanning(self, owner: object) -> None:
        """Stop scanning for ``owner``; quiet if the radio has gone away meanwhile."""
        if self._scan_owners.pop(owner, None) is None or self._state is not _State.OPEN:
            return
        try:
            await self._apply_scan_mode()
        except BleakBluetoothNotAvailableError:
            logger.debug("%r: radio gone while stopping a scan", self)

    async def _apply_scan_mode(self) -> None:
        assert self._scan_lock is not None
        async with self._scan_lock:
            if self._state is not _State.OPEN:
                return
            device = self._require_device()
            wanted = any(self._scan_owners.values()) if self._scan_owners else None
            if wanted == self._scan_mode:
                return
            try:
                if self._scan_mode is not None:
                    await device.stop_scanning()
                    self._scan_mode = None
                if wanted is not None:
                    await device.start_scanning(active=wanted, filter_duplicates=False)
                    self._scan_mode = wanted
            except (BaseBumbleError, TimeoutError) as error:
                raise self._command_failed(error) from error

    def _command_failed(self, error: BaseException) -> BleakError:
        """The bleak error for an HCI command that failed (a lost transport marks the radio)."""
        if isinstance(error, TransportLostError) and self._state is _State.OPEN:
            self._state = _State.LOST
            self._fail_address_waiters()
        if self._state is not _State.OPEN:
            return BleakBluetoothNotAvailableError(
                f"{self!r}: {error!r}", BleakBluetoothNotAvailableReason.NO_BLUETOOTH
            )
        return BleakError(f"{self!r}: HCI command failed: {error!r}")

    def bleak_address(self, address: hci.Address) -> str:
        """How bleak names the device advertising from ``address``: a resolvable private
        address of a bonded peer by the peer's identity address (as BlueZ does, resolving with
        the identity key the peer gave at bonding), any other address as it is."""
        device = self._device
        resolver = device.address_resolver if device is not None else None
        if address.is_resolvable and resolver is not None:
            identity = resolver.resolve(address)
            if identity is not None:
                return address_key(identity)
        return address_key(address)

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        key = self.bleak_address(advertisement.address)
        self._seen[key] = advertisement.address  # the address to connect to now
        for waiter in self._address_waiters.pop(key, []):
            if not waiter.done():
                waiter.set_result(advertisement.address)
        for listener in list(self._listeners.values()):
            try:
                listener(advertisement)
            except Exception:  # a listener's bug must not break bumble's event dispatch
                logger.exception("advertisement listener failed")

    async def resolve_address(self, address: str) -> hci.Address:
        """The bumble address (with its type) of a device known by its bleak address string.

        Uses what the radio has heard already, else scans (passively) until the device shows
        up: bound the wait with ``asyncio.timeout``.
        """
        key = address.upper()
        if (known := self._seen.get(key)) is not None:
            return known
        await self.ensure_open()
        assert self._loop is not None
        waiter: asyncio.Future[hci.Address] = self._loop.create_future()
        self._address_waiters.setdefault(key, []).append(waiter)
        owner = object()
        try:
            await self.start_scanning(owner, active=False)
            return await waiter
        finally:
            waiters = self._address_waiters.get(key, [])
            if waiter in waiters:
                waiters.remove(waiter)
            await self.stop_scanning(owner)

    def _fail_address_waiters(self) -> None:
        waiters, self._address_waiters = self._address_waiters, {}
        for futures in waiters.values():
            for future in futures:
                if not future.done():
                    future.set_exception(BleakError(f"{self!r} went away while looking"))

    # ----------------------------------------------------------------------------- connecting
    async def connect(self, address: hci.Address) -> Connection:
        """Open an LE connection to ``address``; waits until the peer advertises.

        No timeout of its own: cancel it (``asyncio.timeout``) to give up, which cancels the
        pending connection in the controller too. One connection attempt at a time per radio.
        """
        device = await self.ensure_open()
        assert self._connect_lock is not None
        async with self._connect_lock:
            try:
                connection: Connection = await device.connect(
                    address, transport=PhysicalTransport.LE, timeout=None
                )
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling() == 0:
                    # not our caller giving up: bumble aborted the attempt (host flushed)
                    raise BleakBluetoothNotAvailableError(
                        f"{self!r} went away while connecting",
                        BleakBluetoothNotAvailableReason.POWERED_OFF,
                    ) from None
                if self._state is _State.OPEN:
                    await self._cancel_connect(device, address)
                raise
            except TransportLostError as error:
                raise self._command_failed(error) from error
            return connection

    async def _cancel_connect(self, device: Device, address: hci.Address) -> None:
        """Withdraw a pending LE connection; tear down one that completed in the meantime."""
        assert self._loop is not None
        outcome: asyncio.Future[Connection | None] = self._loop.create_future()

        def on_connection(connection: Connection) -> None:
            if not outcome.done() and connection.peer_address == address:
                outcome.set_result(connection)

        def on_failure(_error: object) -> None:
            if not outcome.done():
                outcome.set_result(None)

        device.on(Device.EVENT_CONNECTION, on_connection)
        device.on(Device.EVENT_CONNECTION_FAILURE, on_failure)
        try:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_HOUSEKEEPING_TIMEOUT):
                    await device.send_sync_command(hci.HCI_LE_Create_Connection_Cancel_Command())
                    late = await outcome
                    if late is not None:
                        await late.disconnect(REMOTE_USER_TERMINATED)
        finally:
            device.remove_listener(Device.EVENT_CONNECTION, on_connection)
            device.remove_listener(Device.EVENT_CONNECTION_FAILURE, on_failure)


# --------------------------------------------------------------------------------- selection
_current_radio: contextvars.ContextVar[VirtualRadio | None] = contextvars.ContextVar(
    "tiltmon_current_radio", default=None
)
_default_radios: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, VirtualRadio] = (
    weakref.WeakKeyDictionary()
)


def context_radio() -> VirtualRadio | None:
    """The radio made current with :meth:`VirtualRadio.use` in this context, if any."""
    return _current_radio.get()


def current_radio() -> VirtualRadio:
    """The radio made current with :meth:`VirtualRadio.use`, else the default radio."""
    radio = _current_radio.get()
    return radio if radio is not None else default_radio()


def default_radio() -> VirtualRadio:
    """This event loop's radio from ``$TILTMON_RADIO`` (made on first use, one per loop)."""
    loop = asyncio.get_running_loop()
    radio = _default_radios.get(loop)
    if radio is None or radio.is_closed:
        radio = VirtualRadio.from_env()
        _default_radios[loop] = radio
    return radio


async def close_default_radio() -> None:
    """Close this event loop's default radio, if one was made."""
    radio = _default_radios.pop(asyncio.get_running_loop(), None)
    if radio is not None:
        await radio.close()
