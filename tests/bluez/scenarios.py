"""What the tier-B VM runs: shared by the host-side fixture and the guest script.

Every stream scenario is one ``tiltmon stream --sensor ADDRESS --json`` run inside the VM,
through unchanged bleak on BlueZ, against one simulated sensor on the bumble controller that the
guest attaches through /dev/vhci.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

RESULTS_FILE = "results.json"
# When a run ends, data still in the stack (the kernel, bluetoothd, the CLI's socket) has not
# been counted: under emulation on a busy machine the client lags the sensor by up to ~2.5 s.
LAG_S = 4.0
# Protocols without a sample counter or clock (WitMotion) place samples by arrival time and
# estimate a gap's length from it; under emulation arrivals come in bursts up to a second late,
# so each gap's estimate may be off by that much.
ARRIVAL_JITTER_S = 1.0


@dataclass(frozen=True, slots=True)
class StreamScenario:
    name: str
    model: str  # a firmware_sim.models.MODELS key
    seconds: int
    rate_hz: int = 100  # asked; a model that cannot takes its nearest rate
    disconnect_every_s: float | None = None  # firmware drops the link after this long connected

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Every protocol streams cleanly; two of them (the tiltmon profile and a vendor model) also
# have the link dropped by the firmware over and over, and must reconnect on their own.
# Durations are short because everything runs under TCG emulation (no KVM on CI machines).
# The emulated guest handles about a dozen notifications a second end to end on a busy
# two-core host, so WitMotion (one notification per sample) streams at its lowest rate here;
# the other models batch samples into fewer notifications.
STREAMS: tuple[StreamScenario, ...] = (
    StreamScenario("tiltmon", "tiltmon", 15),
    StreamScenario("witmotion", "witmotion", 15, rate_hz=10),
    StreamScenario("polar", "polar", 15),
    StreamScenario("movesense", "movesense", 15),
    StreamScenario("tiltmon-reconnect", "tiltmon", 24, disconnect_every_s=6.0),
    StreamScenario("witmotion-reconnect", "witmotion", 24, rate_hz=10, disconnect_every_s=6.0),
)

SCAN_SECONDS = 6


# The private link (docs/protocol.md, version 2; docs/reliability.md, threat model), as one
# story on one version-2 sensor whose pairing window starts closed (it is somebody's sensor):
# each step is a user's command (or the plain-bleak probe) run in the guest, in this order.
PRIVATE_LINK = "private-link"
PRIVATE_STEPS: tuple[str, ...] = (
    "unbonded-probe",  # plain bleak, no bond: the IMU data and the control point are refused
    "unbonded-stream",  # `tiltmon stream` unpaired: one clear line, exit 1, no retry loop
    "pair-window-closed",  # `tiltmon pair` outside the window: refused with a clear line
    "pair",  # the wearer presses the button; `tiltmon pair` bonds through BlueZ
    "stream",  # `tiltmon stream` over the encrypted link
    "spoof",  # the real sensor away, a look-alike in range: no connection to it
    "bond-removed-stream",  # bluetoothd forgot the bond (RemoveDevice): refused, one line
    "re-pair",  # button again; `tiltmon pair` bonds anew
)
PRIVATE_STREAM_SECONDS = 15
SPOOF_SECONDS = 12  # listening for its sensor, the look-alike in range, until the user stops it
ATT_INSUFFICIENT_AUTHENTICATION = 0x05
ATT_INSUFFICIENT_ENCRYPTION = 0x0F

# Developing the guest: TILTMON_BLUEZ_ONLY=private-link (comma-separated names, "scan" among
# them) runs only those scenarios in the VM; the tests of the others then fail for want of them.
ONLY_ENV_VAR = "TILTMON_BLUEZ_ONLY"
