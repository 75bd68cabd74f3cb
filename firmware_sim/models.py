"""The simulated sensor models, one per wire protocol, by name.

Every model runs the same motion scenario, IMU error model and faults; only the GATT profile
and the framing differ. ``tiltmon sim --list`` and ``--sim-model`` read this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from bumble.link import LocalLink

from firmware_sim.peripheral import (
    DEFAULT_NAME,
    DeviceIdentity,
    Faults,
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
        ),
        SensorModel("polar", "Polar Verity Sense (PMD)", "polar", (52,), True, True),
        SensorModel(
            "movesense",
            "Movesense (GATT SensorData Protocol firmware)",
            "movesense",
            (13, 26, 52, 104, 208),
            True,
            False,
        ),
    )
}
DEFAULT_MODEL = "tiltmon"


def model_names() -> list[str]:
    return list(MODELS)


def simulated_device_on_link(
    link: LocalLink,
    scenario: str,
    *,
    model: str = DEFAULT_MODEL,
    seed: int = 0,
    faults: Faults = Faults(),
    name: str | None = None,
    speed: float = 1.0,
) -> SimulatedDevice:
    """A complete simulated sensor of ``model`` on a virtual link: scenario, IMU errors, GATT;
    its clock runs ``speed`` times real time (see :attr:`SimulatedDevice.speed`)."""
    device = _device_on_link(link, scenario, model=model, seed=seed, faults=faults, name=name)
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
) -> SimulatedDevice:
    from firmware_sim.radio import new_peripheral_device
    from firmware_sim.simulation import SimulatedSensor

    if model not in MODELS:
        raise ValueError(f"unknown sensor model {model!r}: use one of {', '.join(MODELS)}")
    # Fail early on an unknown scenario; the probe also tells this sensor's clock drift.
    probe = SimulatedSensor(scenario, seed=seed, rate_hz=100)

    def source(rate_hz: int, start_s: float) -> SimulatedSensor:
        return SimulatedSensor(scenario, seed=seed, rate_hz=rate_hz, start_s=start_s)

    if model == "witmotion":
        from firmware_sim.witmotion import WitMotionDevice

        return WitMotionDevice(
            new_peripheral_device(link, name or f"WT901BLE{seed % 256:02X}"),
            source,
            faults=faults,
            clock_drift_ppm=probe.clock_drift_ppm,
            seed=seed,
        )
    if model == "movesense":
        from firmware_sim.movesense import MovesenseDevice

        return MovesenseDevice(
            new_peripheral_device(link, name or f"Movesense 2030000{seed % 1000:03d}"),
            source,
            faults=faults,
            clock_drift_ppm=probe.clock_drift_ppm,
            seed=seed,
        )
    if model == "polar":
        from firmware_sim.polar import PolarDevice

        return PolarDevice(
            new_peripheral_device(link, name or f"Polar Sense 0A1B2C{seed % 256:02X}"),
            source,
            faults=faults,
            clock_drift_ppm=probe.clock_drift_ppm,
            seed=seed,
        )
    return SimulatedPeripheral(
        new_peripheral_device(link, name or DEFAULT_NAME),
        source,
        faults=faults,
        identity=DeviceIdentity(serial=f"SIM-{seed:04d}"),
        clock_drift_ppm=probe.clock_drift_ppm,
        seed=seed,
    )
