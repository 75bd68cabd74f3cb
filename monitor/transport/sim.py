"""``sim:SCENARIO``: a simulated sensor, reached through the real BLE client.

The firmware simulator runs as a bumble GATT peripheral on an in-process virtual link, as one of
the sensor models (``model=``: the tiltmon profile, WitMotion, ...; see firmware_sim.models); the
client is the unchanged :class:`~monitor.transport.ble.BleTransport` on a virtual radio on the
same link. Nothing is mocked: every byte crosses bumble's HCI, L2CAP, ATT and GATT layers.

``speed``: the simulated wearer's time runs that many times real time (a demo sees an hour of
sitting in a minute at 60). The sensor's clock and sample timestamps run fast, and so does the
clock that stamps what arrives (one :class:`~firmware_sim.sim_time.SimulationClock`), so
everything after the transport (pipeline, nudges, recording) lives in the simulated time. Above
:data:`FULL_RATE_MAX_SPEED` the rate asked for is capped at :data:`FAST_RATE_HZ` (in sensor
time): 60x at 100 Hz would be 6000 samples a real second.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Self

from bumble.link import LocalLink

from firmware_sim.models import DEFAULT_MODEL, MODELS, simulated_device_on_link
from firmware_sim.peripheral import Faults, Security, SimulatedDevice
from firmware_sim.radio import VirtualRadio
from monitor.transport.ble import (
    BleTransport,
    PairedWith,
    PasskeySource,
    ReconnectPolicy,
    StreamSettings,
)
from monitor.transport.items import TransportItem

FULL_RATE_MAX_SPEED = 10.0
FAST_RATE_HZ = 25


def rate_for_speed(rate_hz: int, speed: float) -> int:
    """The rate to ask a simulated sensor for when its time runs ``speed`` times fast."""
    return min(rate_hz, FAST_RATE_HZ) if speed > FULL_RATE_MAX_SPEED else rate_hz


class SimulatedSensorTransport:
    def __init__(
        self,
        scenario: str = "desk_short",
        *,
        seed: int = 0,
        model: str = DEFAULT_MODEL,
        faults: Faults = Faults(),
        settings: StreamSettings = StreamSettings(),
        policy: ReconnectPolicy = ReconnectPolicy(),
        speed: float = 1.0,
        security: Security | None = None,
        pair_first_use: bool = True,
        passkey: PasskeySource | None = None,
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        if model not in MODELS:
            raise ValueError(f"unknown sensor model {model!r}: use one of {', '.join(MODELS)}")
        self.model = model
        self.faults = faults
        if not (speed > 0 and math.isfinite(speed)):
            raise ValueError(f"the simulation speed must be a positive number, not {speed}")
        self.speed = float(speed)
        rate = rate_for_speed(settings.rate_hz, self.speed)
        self.settings = dataclasses.replace(settings, rate_hz=rate)
        self.policy = policy
        self.security = security  # a version-2 (private link) sensor
        # The simulator was just switched on: its pairing window is open, so the client may pair
        # by itself; False makes it refuse like a real clip would until `pair()` is called.
        self.pair_first_use = pair_first_use
        self.passkey = passkey  # asked when a sensor with a passkey pairs on first use
        self.peripheral: SimulatedDevice | None = None
        self._radio: VirtualRadio | None = None
        self._ble: BleTransport | None = None

    async def __aenter__(self) -> Self:
        link = LocalLink()
        self.peripheral = simulated_device_on_link(
            link,
            self.scenario,
            model=self.model,
            seed=self.seed,
            faults=self.faults,
            speed=self.speed,
            security=self.security,
        )
        await self.peripheral.start()
        self._radio = VirtualRadio(link=link)
        await self._radio.open()
        self._ble = BleTransport(
            # Straight to this sensor: alone on its own link, there is nothing to choose from.
            str(self.peripheral.device.static_address),  # its identity, under any private address
            protocols=[MODELS[self.model].protocol],
            settings=self.settings,
            policy=self.policy,
            scanner_backend=self._radio.scanner_backend,
            client_backend=self._radio.client_backend,
            clock=self.peripheral.clock.now,  # arrivals stamped in the simulated world's time
            pair_first_use=self.pair_first_use,
            passkey=self.passkey,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ble is not None:
            await self._ble.__aexit__(exc_type, exc, tb)
        if self.peripheral is not None:
            await self.peripheral.stop()
        if self._radio is not None:
            await self._radio.close()

    def act_out(self, scenario: str) -> None:
        """Ask the simulated wearer to do ``scenario`` from its start (a demo's wearer follows
        the calibration wizard's prompts this way)."""
        if self.peripheral is None:
            raise RuntimeError("the simulated sensor is not running")
        from firmware_sim.scenarios import scenario_names

        if scenario not in scenario_names():
            raise ValueError(f"unknown scenario {scenario!r}")
        self.peripheral.act_out(scenario)

    def clock(self) -> float:
        """The simulated world's wall clock (the real one at speed 1, or before starting)."""
        return self.peripheral.clock.now() if self.peripheral is not None else time.time()

    async def pair(self, passkey: PasskeySource | None = None) -> PairedWith:
        """Pair with the simulated sensor through this transport's radio (``passkey``: asked
        for the digits of a sensor that wants them)."""
        if self._ble is None:
            raise RuntimeError("use `async with` before pairing")
        return await self._ble.pair(passkey)

    @property
    def overflowed(self) -> int:
        return self._ble.overflowed if self._ble is not None else 0

    def __aiter__(self) -> AsyncIterator[TransportItem]:
        if self._ble is None:
            raise RuntimeError("use `async with` before iterating a transport")
        return aiter(self._ble)
