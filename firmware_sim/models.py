"""The simulated sensor models, one per wire protocol, by name.

Every model runs the same motion scenario, IMU error model and faults; only the GATT profile
and the framing differ. ``tiltmon sim --list`` and ``--sim-model`` read this table.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass

from bumble.link import LocalLink

from firmware_sim.peripheral import (
    DEFAULT_NAME,
    DeviceIdentity,
    Faults,
    Security,
    SimulatedDevice,
    SimulatedPeripheral,
)


@dataclass(frozen=True, slots=True)
class SensorModel:
    name: str
    title: str
    protocol: str  # the wire protocol it speaks (the client's name for it)
    rates_hz: tuple[int, ...]
    has_gyro: bool
    has_battery_service: bool
    # Where its simulated device lives ("module:Class"), and the name it advertises by default
    # (formatted with the seed); the tiltmon profile's device is built apart (it has an identity).
    device: str = ""
    advertised_name: str = DEFAULT_NAME
    battery_by_command: bool = False  # no Battery service, but a vendor command reads it

    @property
    def reports_battery(self) -> bool:
        return self.has_battery_service or self.battery_by_command

    @property
    def rates_text(self) -> str:
        """ "25/50/100 Hz", or "5–200 Hz" for a device that takes any rate in a range."""
        rates = self.rates_hz
        if len(rates) > 6 and rates == tuple(range(rates[0], rates[-1] + 1)):
            return f"{rates[0]}–{rates[-1]} Hz"
        return "/".join(str(r) for r in rates) + " Hz"


MODELS: dict[str, SensorModel] = {
    m.name: m
    for m in (
        SensorModel(
            "tiltmon",
            "tiltmon profile (docs/protocol.md)",
            "tiltmon",
            (25, 50, 100, 200),
            True,
            True,
        ),
        SensorModel(
            "witmotion",
            "WitMotion BWT901BLECL / WT901BLE5.0",
            "witmotion",
            (10, 20, 50),
            True,
            False,
            "firmware_sim.witmotion:WitMotionDevice",
            "WT901BLE{seed8:02X}",
            battery_by_command=True,
        ),
        SensorModel(
            "polar",
            "Polar Verity Sense (PMD)",
            "polar",
            (52,),
            True,
            True,
            "firmware_sim.polar:PolarDevice",
            "Polar Sense 0A1B2C{seed8:02X}",
        ),
        SensorModel(
            "movesense",
            "Movesense (GATT SensorData Protocol firmware)",
            "movesense",
            (13, 26, 52, 104, 208),
            True,
            False,
            "firmware_sim.movesense:MovesenseDevice",
            "Movesense 2030000{seed:03d}",
        ),
        SensorModel(
            "metamotion",
            "mbientlab MetaMotion (MetaWear, BMI160)",
            "metamotion",
            (25, 50, 100, 200),
            True,
            True,
            "firmware_sim.metamotion:MetaMotionDevice",
            "MetaWear",
        ),
        SensorModel(
            "thingy",
            "Nordic Thingy:52 (motion service)",
            "thingy",
            tuple(range(5, 201)),
            True,
            True,
            "firmware_sim.thingy:ThingyDevice",
            "Thingy",
        ),
    )
}
DEFAULT_MODEL = "tiltmon"


def model_names() -> list[str]:
    return list(MODELS)


def sim_address(model: str, seed: int) -> str:
    """A random static address (top bits 11) that a model's sensor of this seed always has."""
    digest = bytearray(hashlib.sha256(f"{model}:{seed}".encode()).digest()[:6])
    digest[0] |= 0xC0
    return ":".join(f"{b:02X}" for b in digest)


def simulated_device_on_link(
    link: LocalLink,
    scenario: str,
    *,
    model: str = DEFAULT_MODEL,
    seed: int = 0,
    faults: Faults = Faults(),
    name: str | None = None,
    address: str | None = None,
    speed: float = 1.0,
    security: Security | None = None,
) -> SimulatedDevice:
    """A complete simulated sensor of ``model`` on a virtual link: scenario, IMU errors, GATT;
    its clock runs ``speed`` times real time (see :attr:`SimulatedDevice.speed`).

    Like a real sensor it keeps its address from run to run (:func:`sim_address`), so it is
    remembered and its calibration found again; ``name`` and ``address`` override them (two
    sensors advertising the same name, say). ``security`` makes the tiltmon-profile sensor a
    version-2 one (private link); the vendor models keep what their own protocols do (no pairing).
    """
    device = _device_on_link(
        link,
        scenario,
        model=model,
        seed=seed,
        faults=faults,
        name=name,
        address=address,
        security=security,
    )
    device.speed = speed
    from firmware_sim.scenarios import build_scenario
    from firmware_sim.simulation import SimulatedSensor

    def other_scenario(name: str, rate_hz: int, start_s: float) -> SimulatedSensor:
        build_scenario(name, seed)  # an unknown name fails here, not in the stream
        return SimulatedSensor(name, seed=seed, rate_hz=rate_hz, start_s=start_s)

    device.scenario_factory = other_scenario
    return device


def _device_on_link(
    link: LocalLink,
    scenario: str,
    *,
    model: str,
    seed: int,
    faults: Faults,
    name: str | None,
    address: str | None,
    security: Security | None,
) -> SimulatedDevice:
    from firmware_sim.radio import new_peripheral_device
    from firmware_sim.simulation import SimulatedSensor

    if model not in MODELS:
        raise ValueError(f"unknown sensor model {model!r}: use one of {', '.join(MODELS)}")
    spec = MODELS[model]
    # Fail early on an unknown scenario; the probe also tells this sensor's clock drift.
    probe = SimulatedSensor(scenario, seed=seed, rate_hz=100)

    def source(rate_hz: int, start_s: float) -> SimulatedSensor:
        return SimulatedSensor(scenario, seed=seed, rate_hz=rate_hz, start_s=start_s)

    if security is not None and model != DEFAULT_MODEL:
        raise ValueError(f"the {model} model has no private link: only {DEFAULT_MODEL} pairs")
    advertised = name or spec.advertised_name.format(seed=seed % 1000, seed8=seed % 256)
    device = new_peripheral_device(link, advertised, address=address or sim_address(model, seed))
    if spec.device:
        module, _, cls = spec.device.partition(":")
        device_class: type[SimulatedDevice] = getattr(importlib.import_module(module), cls)
        return device_class(
            device,
            source,
            faults=faults,
            clock_drift_ppm=probe.clock_drift_ppm,
            seed=seed,
        )
    return SimulatedPeripheral(
        device,
        source,
        faults=faults,
        identity=DeviceIdentity(serial=f"SIM-{seed:04d}"),
        clock_drift_ppm=probe.clock_drift_ppm,
        seed=seed,
        security=security,
    )
