"""Raw IMU data for custom motion segments (the simulator's scenarios are fixed lists)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from firmware_sim import ImuErrors
from firmware_sim.imu_model import ImuErrorModel, random_mounting
from firmware_sim.motion import Activity, MotionModel, Segment, quat_to_matrix

RATE = 100.0


@dataclass(frozen=True)
class Synth:
    t: npt.NDArray[np.float64]
    acc: npt.NDArray[np.float64]
    gyr: npt.NDArray[np.float64]
    sagittal_deg: npt.NDArray[np.float64]
    frontal_deg: npt.NDArray[np.float64]
    mounting: npt.NDArray[np.float64]


def synth(segments: list[Segment], seed: int = 0, errors: ImuErrors | None = None) -> Synth:
    motion = MotionModel(segments, seed=seed)
    t = np.arange(int(motion.duration_s * RATE)) / RATE
    st = motion.evaluate(t)
    q_PS = random_mounting(seed)
    r_ps = quat_to_matrix(q_PS)
    imu = ImuErrorModel(errors if errors is not None else ImuErrors(), seed)
    gyr, acc, _ = imu.apply(0, t, RATE, st.omega_P @ r_ps, st.specific_force_P @ r_ps)
    return Synth(t, acc, gyr, st.sagittal_deg, st.frontal_deg, q_PS)


def still(seconds: float = 5.0) -> Segment:
    return Segment(Activity.STANDING, seconds, fidget=0.0, turns=False)


def stand(
    seconds: float, sagittal: float = 0.0, frontal: float = 0.0, ramp: float = 2.0
) -> Segment:
    return Segment(
        Activity.STANDING,
        seconds,
        sagittal_deg=sagittal,
        frontal_deg=frontal,
        ramp_s=ramp,
        fidget=0.0,
        turns=False,
    )


def walk(seconds: float) -> Segment:
    return Segment(Activity.WALKING, seconds, turns=False, fidget=0.0, sagittal_deg=1.0)


def forward_tilts(degrees: float, times: int = 3) -> list[Segment]:
    out: list[Segment] = []
    for _ in range(times):
        out += [stand(3.0, degrees), stand(3.0, 0.0)]
    return out
