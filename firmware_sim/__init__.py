"""The sensor's stand-in: pelvis motion, IMU errors, scenarios, the GATT peripheral and the
virtual radio.

The simulation names below are loaded lazily on first use, so importing one submodule (say
``firmware_sim.protocol``) does not pull in the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firmware_sim.imu_model import ImuErrors
    from firmware_sim.motion import Activity, MotionModel, Segment, TiltZone
    from firmware_sim.scenarios import SCENARIOS, Scenario, build_scenario, scenario_names
    from firmware_sim.simulation import SensorTruth, SimulatedRecording, SimulatedSensor, simulate

_LAZY = {
    "Activity": "firmware_sim.motion",
    "MotionModel": "firmware_sim.motion",
    "Segment": "firmware_sim.motion",
    "TiltZone": "firmware_sim.motion",
    "ImuErrors": "firmware_sim.imu_model",
    "SCENARIOS": "firmware_sim.scenarios",
    "Scenario": "firmware_sim.scenarios",
    "build_scenario": "firmware_sim.scenarios",
    "scenario_names": "firmware_sim.scenarios",
    "SensorTruth": "firmware_sim.simulation",
    "SimulatedRecording": "firmware_sim.simulation",
    "SimulatedSensor": "firmware_sim.simulation",
    "simulate": "firmware_sim.simulation",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'firmware_sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "SCENARIOS",
    "Activity",
    "ImuErrors",
    "MotionModel",
    "Scenario",
    "Segment",
    "SensorTruth",
    "SimulatedRecording",
    "SimulatedSensor",
    "TiltZone",
    "build_scenario",
    "scenario_names",
    "simulate",
]
