"""The processing spine: transport items in; tilt, activity and nudges out.

One object owns every stage after the transport (stream assembly, calibration, fusion, tilt,
posture, nudges) and is fed one item at a time. It takes time only from the items, so the live
dashboard, a headless stream, and a replay of a recording run the same code to the same result.

Without a calibration profile it still works: a provisional mounting takes "up" from the first
still second (heading unknown, so sagittal and frontal may be mixed), and as soon as the buffered
data hold quiet standing next to a walk, automatic alignment replaces it with a proper one.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from calibration import (
    CalibrationError,
    device_key,
    load_profile,
)
from monitor.activity import ActivitySnapshot, Posture, Transition
from monitor.mounting import first_mounting, provisional
from monitor.nonwear import NonWearDetector, non_wear_snapshot
from monitor.nudge import NudgeEvent, NudgePolicy, NudgeState
from monitor.posture import PelvisSamples, PostureClassifier, PostureConfig
from monitor.stream import SampleBatch, StreamAssembler, StreamEvent
from monitor.tilt_pipeline import TiltSamples, TiltTracker
from monitor.transport.items import (
    DeviceInfo,
    LinkEvent,
    LinkEventKind,
    Notification,
    TransportItem,
)

FloatArray = npt.NDArray[np.float64]
log = logging.getLogger(__name__)

AUTO_ALIGN_EVERY_S = 20.0  # how often to retry automatic alignment while uncalibrated
AUTO_ALIGN_WINDOW_S = 600.0  # how much recent data the attempt looks at


class MountingSource(enum.StrEnum):
    PROFILE = "profile"  # the wearer's saved calibration
    AUTOMATIC = "automatic"  # found from standing and walking in the stream
    PROVISIONAL = "provisional"  # up from the first still second only: heading unknown


@dataclass(frozen=True, slots=True)
class MountingChange:
    t: float
    q_PS: FloatArray
    source: MountingSource


@dataclass(frozen=True, slots=True)
class PipelineStep:
    """Everything one transport item caused."""

    item: TransportItem
    batch: SampleBatch | None = None
    tilt: TiltSamples | None = None
    snapshots: tuple[ActivitySnapshot, ...] = ()
    transitions: tuple[Transition, ...] = ()
    nudges: tuple[NudgeEvent, ...] = ()
    stream_events: tuple[StreamEvent, ...] = ()
    mounting: MountingChange | None = None


@dataclass(slots=True)
class _RawBuffer:
    """Recent raw samples, for automatic alignment."""

    limit: int
    acc: deque[FloatArray] = field(default_factory=deque)
    gyr: deque[FloatArray] = field(default_factory=deque)
    size: int = 0

    def add(self, acc: FloatArray, gyr: FloatArray) -> None:
        self.acc.append(acc)
        self.gyr.append(gyr)
        self.size += len(acc)
        while self.size - len(self.acc[0]) >= self.limit:
            self.size -= len(self.acc.popleft())
            self.gyr.popleft()

    def arrays(self) -> tuple[FloatArray, FloatArray]:
        return np.concatenate(self.acc), np.concatenate(self.gyr)

    def clear(self) -> None:
        self.acc.clear()
        self.gyr.clear()
        self.size = 0


class Pipeline:
    def __init__(
        self,
        *,
        q_PS: npt.ArrayLike | None = None,
        posture: PostureConfig | None = None,
        nudges: NudgePolicy | None = None,
        profile_lookup: Callable[[DeviceInfo], FloatArray | None] | None = None,
        coalesce_s: float = 0.0,
    ) -> None:
        """``coalesce_s`` > 0 (headless replays as fast as possible): hold consecutive batches
        until they span that many seconds of samples, then run tilt and posture on them at once,
        since per-call numpy overhead dominates 19-sample batches. Results are identical (the
        estimator and the posture machine give the same results for any batch sizes, and
        automatic alignment is attempted at the same batch boundaries); they only come later,
        so call :meth:`flush` at the end of the stream. Not for live use (latency), nor with
        :meth:`snooze`/:meth:`dismiss` (they would act before the held snapshots).
        """
        self.coalesce_s = coalesce_s
        self._held: list[SampleBatch] = []
        self._held_samples = 0
        self._held_item: TransportItem | None = None
        self.assembler = StreamAssembler()
        self._posture_config = posture or PostureConfig()
        self.posture = PostureClassifier(self._posture_config)
        # A sensor left lying still is not a wearer sitting: its seconds become non-wear once
        # the stretch is long enough, and no sitting nudge goes out while it lies still.
        self.non_wear = NonWearDetector()
        self.nudge_policy = nudges or NudgePolicy()
        self.nudge_state: NudgeState = self.nudge_policy.initial_state()
        self.mounting_source: MountingSource | None = None
        self._profile_q_PS = None if q_PS is None else np.asarray(q_PS, dtype=np.float64)
        self._profile_lookup = profile_lookup
        self._tracker: TiltTracker | None = None
        self._rate_hz: float | None = None
        self._raw: _RawBuffer | None = None
        self._since_attempt = 0
        self.latest_snapshot: ActivitySnapshot | None = None
        # A replay's calibrations: the ones the session used, at the times it switched to them.
        self._recorded_mountings: deque[tuple[float, FloatArray]] = deque()

    @property
    def calibrated(self) -> bool:
        return self.mounting_source in (MountingSource.PROFILE, MountingSource.AUTOMATIC)

    @property
    def q_PS(self) -> FloatArray | None:
        return None if self._tracker is None else self._tracker.q_PS

    def follow_recorded_mountings(self, mountings: Iterable[tuple[float, npt.ArrayLike]]) -> None:
        """Replay a session with the calibrations it used, each from the time it was applied,
        instead of the saved profiles: those may be newer, or for another way of wearing the
        sensor. Without any, the mounting is found from the data, as the session did."""
        self._profile_lookup = None
        self._recorded_mountings = deque(
            sorted((float(t), np.asarray(q, dtype=np.float64)) for t, q in mountings)
        )

    def feed(self, item: TransportItem) -> PipelineStep:
        if self._recorded_mountings:
            t = item.received_at if isinstance(item, Notification) else item.at
            if t >= self._recorded_mountings[0][0]:
                return self._switch_then_feed(item, t)
        return self._feed(item)

    def _switch_then_feed(self, item: TransportItem, t: float) -> PipelineStep:
        """A recorded calibration is due: what came before it is processed with the mounting
        it was recorded under, the rest with the new one; one step, as if fed one by one."""
        due_t, q_PS = self._recorded_mountings.popleft()
        while self._recorded_mountings and self._recorded_mountings[0][0] <= t:
            due_t, q_PS = self._recorded_mountings.popleft()
        before = self.flush()
        self._held_item = None
        change = self.set_mounting(q_PS, due_t)
        step = self._feed(item)
        if step.mounting is None:
            step = replace(step, mounting=change)
        return step if before is None else _joined(before, step)

    def _feed(self, item: TransportItem) -> PipelineStep:
        held: list[SampleBatch] = []
        if self._held and isinstance(item, LinkEvent):
            held = self._take_held()  # before the event changes the rate or the mounting
        profile = None
        if isinstance(item, LinkEvent):
            if item.kind is LinkEventKind.CONFIGURED and item.config:
                self._configure(float(item.config.rate_hz))
            elif item.kind is LinkEventKind.DEVICE_INFO and item.device_info is not None:
                profile = self._apply_saved_profile(item.device_info, item.at)
        batch, events = self.assembler.feed(item)
        # The first batch goes alone: its provisional mounting gets a step of its own.
        if self.coalesce_s <= 0 or (self._tracker is None and not self._held):
            if batch is None:
                return PipelineStep(item, stream_events=tuple(events), mounting=profile)
            return self._process(item, [batch], events)
        if self._held and events:
            held += self._take_held()  # a gap or a bad packet: held runs are consecutive
        if batch is not None:
            self._held.append(batch)
            self._held_samples += len(batch)
            self._held_item = item
            if self._held_samples >= self.coalesce_s * (self._rate_hz or 100.0):
                held += self._take_held()
        if not held:
            return PipelineStep(item, stream_events=tuple(events), mounting=profile)
        step = self._process(item, held, events)
        return step if profile is None else replace(step, mounting=profile)

    def flush(self) -> PipelineStep | None:
        """The stream ended: process the batches held for coalescing, if any."""
        if not self._held or self._held_item is None:
            return None
        return self._process(self._held_item, self._take_held(), [])

    def _take_held(self) -> list[SampleBatch]:
        held, self._held, self._held_samples = self._held, [], 0
        return held

    def _process(
        self, item: TransportItem, batches: list[SampleBatch], events: list[StreamEvent]
    ) -> PipelineStep:
        """Tilt, posture and nudges for consecutive batches, with the results of feeding them
        one by one."""
        mounting: MountingChange | None = None
        tilts: list[TiltSamples] = []
        snapshots: list[ActivitySnapshot] = []
        transitions: list[Transition] = []
        nudges: list[NudgeEvent] = []
        i = 0
        while i < len(batches):
            mounting = self._ensure_mounting(batches[i]) or mounting
            tracker = self._tracker
            assert tracker is not None
            run = batches[i : self._run_end(batches, i)]
            i += len(run)
            acc = _cat([b.acc for b in run])
            gyr_in = None if run[0].gyr is None else _cat([b.gyr for b in run if b.gyr is not None])
            gyr = gyr_in if gyr_in is not None else np.zeros_like(acc)
            host = _cat([b.host_time for b in run])
            picked_up = self.non_wear.update(host, acc)
            tilt = tracker.update(acc, gyr_in)
            tilts.append(tilt)
            q_before = tracker.q_PS
            for b in run:  # alignment is attempted after the run's last batch only
                mounting = self._maybe_auto_align(b, _gyr(b)) or mounting
            parts = [(0, len(acc), tracker.q_PS)]
            if tracker.q_PS is not q_before and len(run) > 1:
                # As fed one by one: the new mounting applies from the batch that found it.
                split = len(acc) - len(run[-1])
                parts = [(0, split, q_before), (split, len(acc), tracker.q_PS)]
            for lo, hi, q_PS in parts:
                samples = PelvisSamples.from_sensor(
                    host[lo:hi], acc[lo:hi], gyr[lo:hi], tilt.q_ES[lo:hi], q_PS
                )
                update = self.posture.update(samples)
                snapshots += update.snapshots
                transitions += update.transitions
            if picked_up:  # worn again after a stretch off the body: posture starts afresh
                self.posture = PostureClassifier(self._posture_config)
        snapshots = [self._wear_marked(s) for s in snapshots]
        for snapshot in snapshots:
            self.nudge_state, new = self.nudge_policy.step(
                self.nudge_state, self._for_nudges(snapshot)
            )
            nudges.extend(new)
        if snapshots:
            self.latest_snapshot = snapshots[-1]
        return PipelineStep(
            item,
            batch=_merge_batches(batches),
            tilt=_merge_tilts(tilts),
            snapshots=tuple(snapshots),
            transitions=tuple(transitions),
            nudges=tuple(nudges),
            stream_events=tuple(events),
            mounting=mounting,
        )

    def _wear_marked(self, snap: ActivitySnapshot) -> ActivitySnapshot:
        """The snapshot, or a non-wear one within a stretch the sensor lay off the body."""
        off = self.non_wear.off_since
        return non_wear_snapshot(snap.t) if off is not None and snap.t > off else snap

    def _for_nudges(self, snap: ActivitySnapshot) -> ActivitySnapshot:
        """What the nudge policy sees: while the sensor lies still (perhaps on a desk, not yet
        long enough to call it non-wear), sitting is not sitting it can nudge about."""
        still = self.non_wear.still_since
        if still is not None and snap.t > still and snap.posture is Posture.SITTING:
            return replace(snap, posture=Posture.UNKNOWN)
        return snap

    def _run_end(self, batches: list[SampleBatch], i: int) -> int:
        """End of the run from ``batches[i]`` that one mounting covers (exclusive)."""
        if self._raw is None:
            return len(batches)  # the mounting is settled: no alignment attempts
        since = self._since_attempt
        limit = AUTO_ALIGN_EVERY_S * (self._rate_hz or 100.0)
        has_gyr = batches[i].gyr is not None
        for k in range(i, len(batches)):
            if (batches[k].gyr is not None) != has_gyr:
                return k
            if has_gyr:
                since += len(batches[k])
                if since >= limit:
                    return k + 1
        return len(batches)

    def snooze(self, t: float, minutes: float | None = None) -> tuple[NudgeEvent, ...]:
        self.nudge_state, events = self.nudge_policy.snooze(self.nudge_state, t, minutes)
        return events

    def dismiss(self, t: float) -> tuple[NudgeEvent, ...]:
        self.nudge_state, events = self.nudge_policy.dismiss(self.nudge_state, t)
        return events

    def set_mounting(self, q_PS: npt.ArrayLike, t: float) -> MountingChange:
        """A calibration just finished: use its mounting from now on."""
        self._profile_q_PS = np.asarray(q_PS, dtype=np.float64)
        self.mounting_source = MountingSource.PROFILE
        self.posture.heading_known = True
        if self._tracker is not None:
            self._tracker.set_mounting(self._profile_q_PS)
        self._raw = None
        return MountingChange(t, self._profile_q_PS, MountingSource.PROFILE)

    # --- mounting -----------------------------------------------------------------------

    def _apply_saved_profile(self, device: DeviceInfo, t: float) -> MountingChange | None:
        if self._profile_lookup is None or self.mounting_source is MountingSource.PROFILE:
            return None
        q_PS = self._profile_lookup(device)
        return None if q_PS is None else self.set_mounting(q_PS, t)

    def _configure(self, rate_hz: float) -> None:
        if self._rate_hz == rate_hz:
            return  # a reconnect at the same rate: the estimator state is still good
        self._rate_hz = rate_hz
        if self._tracker is not None:  # a new rate needs a new estimator, same mounting
            self._tracker = TiltTracker(rate_hz, self._tracker.q_PS)
        if self._raw is not None:
            self._raw = _RawBuffer(int(AUTO_ALIGN_WINDOW_S * rate_hz))

    def _ensure_mounting(self, batch: SampleBatch) -> MountingChange | None:
        if self._tracker is not None:
            return None
        rate = self._rate_hz or 100.0
        t = float(batch.host_time[0])
        if self._profile_q_PS is not None:
            self._tracker = TiltTracker(rate, self._profile_q_PS)
            self.mounting_source = MountingSource.PROFILE
            return MountingChange(t, self._profile_q_PS, MountingSource.PROFILE)
        q_PS = provisional(batch.acc)
        self._tracker = TiltTracker(rate, q_PS)
        self.mounting_source = MountingSource.PROVISIONAL
        self.posture.heading_known = False  # forward is a guess until walking shows it
        self._raw = _RawBuffer(int(AUTO_ALIGN_WINDOW_S * rate))
        return MountingChange(t, q_PS, MountingSource.PROVISIONAL)

    def _maybe_auto_align(self, batch: SampleBatch, gyr: FloatArray) -> MountingChange | None:
        if self._raw is None or self._tracker is None or batch.gyr is None:
            return None
        self._raw.add(batch.acc, gyr)
        self._since_attempt += len(batch)
        rate = self._rate_hz or 100.0
        if self._since_attempt < AUTO_ALIGN_EVERY_S * rate:
            return None
        self._since_attempt = 0
        acc, gyr_all = self._raw.arrays()
        found = first_mounting(acc, gyr_all, rate)
        if found is None:
            return None
        q_PS = found.q_PS
        self._tracker.set_mounting(q_PS)
        self.mounting_source = MountingSource.AUTOMATIC
        self.posture.heading_known = True
        self._raw = None
        return MountingChange(float(batch.host_time[-1]), q_PS, MountingSource.AUTOMATIC)


def _gyr(batch: SampleBatch) -> FloatArray:
    return batch.gyr if batch.gyr is not None else np.zeros_like(batch.acc)


def _cat(arrays: list[FloatArray]) -> FloatArray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _joined(first: PipelineStep, then: PipelineStep) -> PipelineStep:
    """Two steps' results as one step (the later item's), in order."""
    batches = [s.batch for s in (first, then) if s.batch is not None]
    tilts = [s.tilt for s in (first, then) if s.tilt is not None]
    return PipelineStep(
        then.item,
        batch=_merge_batches(batches) if batches else None,
        tilt=_merge_tilts(tilts) if tilts else None,
        snapshots=first.snapshots + then.snapshots,
        transitions=first.transitions + then.transitions,
        nudges=first.nudges + then.nudges,
        stream_events=first.stream_events + then.stream_events,
        mounting=then.mounting or first.mounting,
    )


def _merge_batches(batches: list[SampleBatch]) -> SampleBatch:
    if len(batches) == 1:
        return batches[0]
    gyr = [b.gyr for b in batches if b.gyr is not None]
    return SampleBatch(
        batches[0].first_index,
        _cat([b.sensor_time for b in batches]),
        _cat([b.host_time for b in batches]),
        _cat([b.acc for b in batches]),
        _cat(gyr) if len(gyr) == len(batches) else None,
        np.concatenate([b.saturated for b in batches]),
    )


def _merge_tilts(tilts: list[TiltSamples]) -> TiltSamples:
    if len(tilts) == 1:
        return tilts[0]
    return TiltSamples(
        _cat([t.sagittal_deg for t in tilts]),
        _cat([t.frontal_deg for t in tilts]),
        _cat([t.q_ES for t in tilts]),
    )


def profile_id(device: DeviceInfo | None) -> str:
    """The name a device's calibration profile is saved under: its address (see
    :func:`calibration.device_key`: a serial or a name can be shared by another sensor).

    Saving (``tiltmon calibrate``, the dashboard's wizard) and loading go through this one
    function, so a profile is always found again under the name it was saved with.
    """
    if device is None:
        return "default"
    return device_key(address=device.address, serial=device.serial, name=device.name)


def profile_identity(device: DeviceInfo | None) -> dict[str, str]:
    """What a profile records of the sensor it was made on, to be checked when it is found."""
    if device is None:
        return {}
    fields = {
        "address": device.address,
        "serial": device.serial,
        "name": device.name,
        "model": device.model,
    }
    return {k: v for k, v in fields.items() if v}


def saved_mounting(device: DeviceInfo) -> FloatArray | None:
    """The mounting from the device's saved calibration profile, if it has a usable one."""
    try:
        profile = load_profile(profile_id(device))
    except CalibrationError as exc:
        # A damaged profile must not stop the monitor: say so and calibrate automatically.
        log.warning("ignoring the calibration profile of %s: %s", profile_id(device), exc)
        return None
    if profile is not None:
        why = profile.mismatch(address=device.address, serial=device.serial)
        if why is not None:
            # Another sensor's mounting would be wrong from the first sample: start afresh.
            log.warning("not using the calibration profile %s: %s", profile_id(device), why)
            return None
    return None if profile is None else profile.q_PS
