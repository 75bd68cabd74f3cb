"""Turn raw notifications into a clean sample stream, whatever the sensor's wire protocol.

The assembler decodes each notification with the protocol named in the stream format (see
:mod:`monitor.sensors`) and places every sample on one timeline of sample numbers, by what the
protocol offers (:class:`~monitor.sensors.base.Timing`):

* a sensor clock: unwrap the stamp, turn it into a sample number;
* a sequence number: the same, with one tick per sample;
* nothing but arrival: predict when the next samples should arrive from the rate and the
  clock mapping, smooth out the radio's jitter, and call a late arrival a gap only when it is
  later than the jitter explains and the next packet does not come right behind it (then the
  packet was held up on the way, by a busy computer or radio, and nothing was lost).

It counts lost and duplicated samples, maps sensor time to host time, and never emits a sample
twice. It is pure: host time arrives with each item.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from monitor.clock import SensorClockMapper
from monitor.sensors import protocol as protocol_named
from monitor.sensors.base import (
    DecodedPacket,
    FrameDecoder,
    SensorProtocol,
    StreamFormat,
    Timing,
)
from monitor.transport.items import LinkEvent, LinkEventKind, Notification, TransportItem

# A sensor clock this far from where the host's clock says it should be has jumped (a reboot, or
# a paused sensor), rather than dropped or repeated packets.
_CLOCK_JUMP_S = 5.0
# Placing by arrival: how many recent arrivals describe the radio's jitter, and how far a rate
# may stray from the one configured (crystals stay well inside this; lost samples would not).
_JITTER_WINDOW = 200
_ARRIVAL_MAX_DRIFT_PPM = 1000.0
# A late packet whose successor comes sooner than this share of a packet's duration is a backlog
# draining (faster than the sensor produces), not a loss: a loss leaves the pace as it was.
# Half was too tight for a sensor whose packet is two notifications (MetaMotion), which a busy
# computer drains at about half its pace.
_DRAIN_PACE = 0.75


class GapReason(enum.StrEnum):
    DROPPED = "dropped"  # notifications lost while the link stayed up
    DISCONNECTED = "disconnected"  # samples taken while the link was down
    CLOCK_JUMP = "clock_jump"  # the sensor's clock restarted or paused: a new timeline


@dataclass(frozen=True, slots=True)
class SampleBatch:
    """Consecutive samples in SI units."""

    first_index: int  # sample number since the stream began (gaps count)
    sensor_time: npt.NDArray[np.float64]  # s, unwrapped sensor clock (or sample count / rate)
    host_time: npt.NDArray[np.float64]  # s, host wall clock via the drift-corrected mapping
    acc: npt.NDArray[np.float64]  # (n, 3) m/s²
    gyr: npt.NDArray[np.float64] | None  # (n, 3) rad/s
    saturated: npt.NDArray[np.bool_]  # (n,) any axis at the end of its range

    def __len__(self) -> int:
        return len(self.sensor_time)


@dataclass(frozen=True, slots=True)
class StreamGap:
    sensor_time: float  # where the gap starts, s
    host_time: float
    lost_samples: int
    reason: GapReason


@dataclass(frozen=True, slots=True)
class MalformedPacket:
    received_at: float
    error: str


StreamEvent = StreamGap | MalformedPacket


@dataclass(slots=True)
class StreamStats:
    packets: int = 0
    samples: int = 0
    lost: int = 0
    duplicates: int = 0
    malformed: int = 0
    gaps: int = 0
    reconnects: int = 0
    saturated: int = 0


@dataclass(slots=True)
class StreamAssembler:
    config: StreamFormat | None = None
    stats: StreamStats = field(default_factory=StreamStats)
    clock: SensorClockMapper = field(default_factory=SensorClockMapper)
    protocol: SensorProtocol | None = None
    _decoder: FrameDecoder | None = None
    _next_index: int | None = None  # sample number of the next sample expected
    _timeline_open: bool = False  # False: the next packet starts a new timeline
    _origin: float = 0.0  # unwrapped stamp of sample number 0 (stamped protocols)
    _last_received_at: float | None = None
    _last_host_time: float = -np.inf
    _link_dropped: bool = False
    _connected_once: bool = False
    # Placing by arrival: recent on-time packets as (sensor time of the last sample, arrival).
    # Their lateness is measured against the clock mapping as it is now, never as it was: the
    # mapping moves, and lateness kept from before a move would pass the move off as losses.
    _arrivals: deque[tuple[float, float]] = field(
        default_factory=lambda: deque(maxlen=_JITTER_WINDOW)
    )
    # Placing by arrival: a late packet waits here for the next one to tell a delay from a loss.
    _held: tuple[DecodedPacket, float] | None = None

    def feed(self, item: TransportItem) -> tuple[SampleBatch | None, list[StreamEvent]]:
        if isinstance(item, LinkEvent):
            # A packet still held is placed first, on the timeline the event may end.
            events: list[StreamEvent] = []
            batches = self._release(None, events)
            self._on_link_event(item)
            return (_joined(batches) if batches else None), events
        return self._on_notification(item)

    @property
    def rate_estimate_hz(self) -> float | None:
        """The sensor's sample rate in host seconds, as the clock mapping measures it."""
        if self.config is None:
            return None
        return self.config.rate_hz / (1.0 + self.clock.drift_ppm * 1e-6)

    # --- link events --------------------------------------------------------------------------

    def _on_link_event(self, event: LinkEvent) -> None:
        if event.kind is LinkEventKind.CONFIGURED and event.config is not None:
            fmt = event.config
            old = self.config
            if old is None or (fmt.protocol, fmt.rate_hz, fmt.has_gyro) != (
                old.protocol,
                old.rate_hz,
                old.has_gyro,
            ):
                # A new sample grid: the old timeline cannot be continued.
                if old is None or old.protocol != fmt.protocol:
                    self.protocol = protocol_named(fmt.protocol)
                    arrival = self.protocol.timing is Timing.ARRIVAL
                    bound = _ARRIVAL_MAX_DRIFT_PPM if arrival else None
                    self.clock = SensorClockMapper(max_drift_ppm=bound)
                self._timeline_open = False
                self._arrivals.clear()
            assert self.protocol is not None
            self.config = fmt
            self._decoder = self.protocol.decoder(fmt)  # a fresh framer for a fresh link
            if self._connected_once:
                self.stats.reconnects += 1
            self._connected_once = True
        elif event.kind is LinkEventKind.DISCONNECTED:
            self._link_dropped = True
            if self._decoder is not None:
                self._decoder.reset()

    # --- notifications ------------------------------------------------------------------------

    def _on_notification(self, note: Notification) -> tuple[SampleBatch | None, list[StreamEvent]]:
        decoder = self._decoder
        if decoder is None:
            self.stats.malformed += 1
            return None, [MalformedPacket(note.received_at, "data before the configuration")]
        packets, errors = decoder.feed(note.payload)
        events: list[StreamEvent] = [MalformedPacket(note.received_at, str(e)) for e in errors]
        self.stats.malformed += len(errors)
        batches: list[SampleBatch] = []
        for packet in packets:
            self.stats.packets += 1
            batches += self._release(note.received_at, events)
            if self._late_by_arrival(len(packet), note.received_at):
                self._held = (packet, note.received_at)
                continue
            batch = self._place(packet, note.received_at, events)
            if batch is not None:
                batches.append(batch)
        if not batches:
            return None, events
        return _joined(batches), events

    def _release(self, next_at: float | None, events: list[StreamEvent]) -> list[SampleBatch]:
        """Place the held packet, now that the next one came at ``next_at`` (None: a link
        event came instead). Right behind it, sooner than the sensor's pace
        (:data:`_DRAIN_PACE`), the two were held up together on the way; at the sensor's
        pace, the held packet's lateness was samples lost before it."""
        if self._held is None:
            return []
        packet, received_at = self._held
        self._held = None
        assert self.config is not None
        duration = len(packet) / self.config.rate_hz
        delayed = next_at is not None and next_at - received_at < _DRAIN_PACE * duration
        batch = self._place(packet, received_at, events, delayed=delayed)
        return [] if batch is None else [batch]

    def _place(
        self,
        packet: DecodedPacket,
        received_at: float,
        events: list[StreamEvent],
        *,
        delayed: bool = False,
    ) -> SampleBatch | None:
        assert self.config is not None and self.protocol is not None
        n = len(packet)
        if self.protocol.timing is Timing.ARRIVAL or packet.stamp is None:
            first = self._place_by_arrival(n, received_at, events, delayed=delayed)
        else:
            first = self._place_by_stamp(packet.stamp, received_at, events)
        assert self._next_index is not None
        skip = 0
        if first < self._next_index:
            skip = min(n, self._next_index - first)
            self.stats.duplicates += skip
            if skip == n:
                return None
        elif first > self._next_index:
            lost = first - self._next_index
            reason = GapReason.DISCONNECTED if self._link_dropped else GapReason.DROPPED
            events.append(self._gap(self._next_index, lost, reason))
        if self._link_dropped and self.protocol.timing is Timing.ARRIVAL:
            # The samples missed while the link was down were inferred from the mapping itself:
            # its error must not pass for drift (see SensorClockMapper.new_segment).
            self.clock.new_segment()
        self._link_dropped = False
        self._last_received_at = received_at
        rate = self.config.rate_hz
        # The packet leaves the sensor after its last sample is taken.
        self.clock.observe((first + n - 1) / rate, received_at)
        start = first + skip
        kept = n - skip
        self._next_index = start + kept
        sensor_time = (start + np.arange(kept, dtype=np.float64)) / rate
        host_time = self.clock.to_host(sensor_time)
        if self.protocol.timing is Timing.ARRIVAL:
            host_time = np.minimum(host_time, received_at)  # nothing arrives before it is taken
        saturated = packet.saturated[skip:]
        self.stats.saturated += int(saturated.sum())
        self.stats.samples += kept
        return SampleBatch(
            first_index=start,
            sensor_time=sensor_time,
            host_time=self._monotonic(host_time),
            acc=packet.acc[skip:],
            gyr=packet.gyr[skip:] if packet.gyr is not None else None,
            saturated=saturated,
        )

    def _place_by_stamp(self, stamp: int, received_at: float, events: list[StreamEvent]) -> int:
        """The sample number of a packet's first sample, from its clock or sequence stamp."""
        assert self.config is not None and self.protocol is not None
        per_sample = self.protocol.stamp_ticks_per_sample(self.config)
        unwrapped, jumped = self._unwrap(stamp, received_at, per_sample)
        if not self._timeline_open or jumped:
            if jumped:
                assert self._next_index is not None
                events.append(self._gap(self._next_index, 0, GapReason.CLOCK_JUMP))
                self.clock.reset()
            # Keep sample numbering monotonic across a restart of the sensor's clock.
            start = self._next_index if self._next_index is not None else 0
            self._origin = unwrapped - start * per_sample
            self._next_index = start
            self._timeline_open = True
        return round((unwrapped - self._origin) / per_sample)

    def _unwrap(self, stamp: int, received_at: float, per_sample: float) -> tuple[float, bool]:
        """Place a wrapping stamp on the unwrapped timeline; say if the sensor's clock jumped.

        Of all candidates ``stamp + k·modulus``, take the one nearest to where the host's
        clock says the sensor should be now, so even a disconnect longer than a wrap resolves
        correctly.
        """
        assert self.config is not None and self.protocol is not None
        if not self._timeline_open or self._last_received_at is None:
            return float(stamp), False
        assert self._next_index is not None
        modulus = self.protocol.stamp_modulus
        ticks_per_s = per_sample * self.config.rate_hz
        expected = self._origin + self._next_index * per_sample
        predicted = expected + (received_at - self._last_received_at) * ticks_per_s
        k = round((predicted - stamp) / modulus)
        unwrapped = float(stamp + k * modulus)
        jump = min(_CLOCK_JUMP_S * ticks_per_s, modulus / 4)
        return unwrapped, abs(unwrapped - predicted) > jump

    def _place_by_arrival(
        self, n: int, received_at: float, events: list[StreamEvent], *, delayed: bool = False
    ) -> int:
        """The sample number of a packet's first sample, from when it arrived.

        The clock mapping (fitted to the earliest arrivals) says when the packet's last sample
        was taken if nothing was lost; the recent arrivals say how late the radio usually
        delivers. Only lateness beyond that jitter counts as lost samples, except after the link
        was down, when the sensor is known to have sampled on; a packet found ``delayed`` (the
        next came right behind it) lost nothing, and its lateness says nothing of the jitter.
        """
        assert self.config is not None
        if not self._timeline_open or self._next_index is None or not self.clock.ready:
            self._next_index = self._next_index if self._next_index is not None else 0
            self._timeline_open = True
            return self._next_index
        period = 1.0 / self.config.rate_hz
        lateness, typical, allowed = self._arrival_lateness(n, received_at)
        missing = 0
        if self._link_dropped:
            # The sensor sampled on while the link was down: all the lateness is lost samples.
            missing = max(0, round((lateness - typical) / period))
        elif delayed:
            return self._next_index
        elif lateness - typical > allowed:
            missing = max(1, round((lateness - typical) / period))
        first = self._next_index + missing
        self._arrivals.append(((first + n - 1) * period, received_at))
        return first

    def _arrival_lateness(self, n: int, received_at: float) -> tuple[float, float, float]:
        """(how late a packet of ``n`` samples arrives if nothing was lost, the usual lateness,
        the lateness beyond the usual that jitter still explains), in s."""
        assert self.config is not None and self._next_index is not None
        period = 1.0 / self.config.rate_hz
        last = self._next_index + n - 1
        lateness = received_at - float(self.clock.to_host(np.array([last * period]))[0])
        typical, spread = 0.0, 0.0
        if self._arrivals:
            taken, arrived = np.array(self._arrivals, dtype=np.float64).T
            recent = arrived - self.clock.to_host(taken)
            typical = float(np.median(recent))
            spread = float(np.percentile(recent, 90)) - typical
        # A lost packet of n samples leaves a hole of n periods: anything shorter is jitter.
        return lateness, typical, max((max(n, 2) - 0.5) * period, 3.0 * spread)

    def _late_by_arrival(self, n: int, received_at: float) -> bool:
        """Whether a packet placed by arrival comes later than jitter explains (and the link
        did not drop before it): then it is held until the next one says why."""
        if (
            self.protocol is None
            or self.protocol.timing is not Timing.ARRIVAL
            or self._link_dropped
            or not self._timeline_open
            or self._next_index is None
            or not self.clock.ready
        ):
            return False
        lateness, typical, allowed = self._arrival_lateness(n, received_at)
        return lateness - typical > allowed

    # --- helpers ------------------------------------------------------------------------------

    def _monotonic(self, host_time: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Host times never step back, even when a refit of the clock mapping would say so.

        Downstream state machines need time to move forward; a refit moves the mapping by
        milliseconds at most, so holding samples a microsecond apart until it catches up is
        invisible to them.
        """
        # Each sample at least a microsecond after the one before, within the batch too (a
        # multi-sample packet placed by arrival can have several samples clamped to its arrival):
        # h'[k] = k·µs + running max of (h[j] - j·µs), floored by the batch before.
        step = 1e-6 * np.arange(1, len(host_time) + 1)
        shifted = np.maximum(host_time - step, self._last_host_time)
        host_time = np.maximum.accumulate(shifted) + step
        self._last_host_time = float(host_time[-1])
        return host_time

    def _gap(self, at_index: int, lost: int, reason: GapReason) -> StreamGap:
        assert self.config is not None
        self.stats.lost += lost
        self.stats.gaps += 1
        sensor_time = at_index / self.config.rate_hz
        host = float(self.clock.to_host(np.array([sensor_time]))[0]) if self.clock.ready else 0.0
        return StreamGap(sensor_time, host, lost, reason)


def _joined(batches: list[SampleBatch]) -> SampleBatch:
    if len(batches) == 1:
        return batches[0]
    gyr = [b.gyr for b in batches if b.gyr is not None]
    return SampleBatch(
        first_index=batches[0].first_index,
        sensor_time=np.concatenate([b.sensor_time for b in batches]),
        host_time=np.concatenate([b.host_time for b in batches]),
        acc=np.concatenate([b.acc for b in batches]),
        gyr=np.concatenate(gyr) if len(gyr) == len(batches) else None,
        saturated=np.concatenate([b.saturated for b in batches]),
    )
