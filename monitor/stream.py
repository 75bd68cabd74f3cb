"""Turn raw notifications into a clean sample stream.

The assembler places every packet on the sensor's own timeline (unwrapping the 32-bit µs
timestamp), counts lost and duplicated samples, maps sensor time to host time, converts counts to
SI units, and never emits a sample twice. It is pure: host time arrives with each item.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from monitor.clock import SensorClockMapper
from monitor.codec import TIMESTAMP_MODULUS, SensorConfig, decode_imu_packet
from monitor.errors import DecodeError
from monitor.transport.items import LinkEvent, LinkEventKind, Notification, TransportItem

# A sensor clock this far from where the host's clock says it should be has jumped (a reboot, or
# a paused sensor), rather than dropped or repeated packets.
_CLOCK_JUMP_US = 5_000_000


class GapReason(enum.StrEnum):
    DROPPED = "dropped"  # notifications lost while the link stayed up
    DISCONNECTED = "disconnected"  # samples taken while the link was down
    CLOCK_JUMP = "clock_jump"  # the sensor's clock restarted or paused: a new timeline


@dataclass(frozen=True, slots=True)
class SampleBatch:
    """Consecutive samples in SI units."""

    first_index: int  # sample number since the stream began (gaps count)
    sensor_time: npt.NDArray[np.float64]  # s, unwrapped sensor clock
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
    config: SensorConfig | None = None
    stats: StreamStats = field(default_factory=StreamStats)
    clock: SensorClockMapper = field(default_factory=SensorClockMapper)
    _next_us: int | None = None  # unwrapped sensor time of the next sample expected
    _origin_us: int = 0  # unwrapped time of sample 0
    _last_received_at: float | None = None
    _last_host_time: float = -np.inf
    _link_dropped: bool = False
    _connected_once: bool = False

    def feed(self, item: TransportItem) -> tuple[SampleBatch | None, list[StreamEvent]]:
        if isinstance(item, LinkEvent):
            self._on_link_event(item)
            return None, []
        return self._on_notification(item)

    def _on_link_event(self, event: LinkEvent) -> None:
        if event.kind is LinkEventKind.CONFIGURED and event.config is not None:
            if self.config is not None and (
                event.config.rate_hz != self.config.rate_hz
                or event.config.has_gyro != self.config.has_gyro
            ):
                # A new sample grid: the old timeline cannot be continued.
                self._next_us = None
            self.config = event.config
            if self._connected_once:
                self.stats.reconnects += 1
            self._connected_once = True
        elif event.kind is LinkEventKind.DISCONNECTED:
            self._link_dropped = True

    def _on_notification(self, note: Notification) -> tuple[SampleBatch | None, list[StreamEvent]]:
        config = self.config
        if config is None:
            self.stats.malformed += 1
            return None, [MalformedPacket(note.received_at, "data before the configuration")]
        try:
            packet = decode_imu_packet(note.payload)
        except DecodeError as exc:
            self.stats.malformed += 1
            return None, [MalformedPacket(note.received_at, str(exc))]
        if (packet.gyr_counts is not None) != config.has_gyro:
            self.stats.malformed += 1
            return None, [
                MalformedPacket(
                    note.received_at, "gyroscope presence differs from the configuration"
                )
            ]
        self.stats.packets += 1
        period = config.sample_period_us
        n = packet.sample_count
        events: list[StreamEvent] = []
        first_us, jumped = self._unwrap(packet.timestamp_us, note.received_at)
        if self._next_us is None or jumped:
            if self._next_us is not None:
                events.append(self._gap(self._next_us, 0, GapReason.CLOCK_JUMP))
                self.clock.reset()
                # Keep sample numbering monotonic across the restart.
                self._origin_us = first_us - self._index_of(self._next_us) * period
            else:
                self._origin_us = first_us
            self._next_us = first_us
        skip = 0
        if first_us < self._next_us:
            skip = min(n, -(-(self._next_us - first_us) // period))
            self.stats.duplicates += skip
            if skip == n:
                return None, events
        elif first_us > self._next_us:
            lost = round((first_us - self._next_us) / period)
            reason = GapReason.DISCONNECTED if self._link_dropped else GapReason.DROPPED
            events.append(self._gap(self._next_us, lost, reason))
        self._link_dropped = False
        self._last_received_at = note.received_at
        kept = n - skip
        start_us = first_us + skip * period
        sensor_us = start_us + np.arange(kept, dtype=np.int64) * period
        self._next_us = int(sensor_us[-1]) + period
        sensor_time = (sensor_us - self._origin_us) / 1e6
        # The packet leaves the sensor after its last sample is taken.
        self.clock.observe(
            float((first_us + (n - 1) * period - self._origin_us) / 1e6), note.received_at
        )
        acc_counts = packet.acc_counts[skip:]
        gyr_counts = packet.gyr_counts[skip:] if packet.gyr_counts is not None else None
        # The header flags say whether any sample sits at a range limit: look only then.
        saturated = np.zeros(kept, dtype=bool)
        if packet.acc_saturated:
            saturated |= _saturated(acc_counts)
        if packet.gyr_saturated and gyr_counts is not None:
            saturated |= _saturated(gyr_counts)
        if packet.acc_saturated or packet.gyr_saturated:
            self.stats.saturated += int(saturated.sum())
        self.stats.samples += kept
        batch = SampleBatch(
            first_index=self._index_of(start_us),
            sensor_time=sensor_time,
            host_time=self._monotonic(self.clock.to_host(sensor_time)),
            acc=acc_counts.astype(np.float64) * config.acc_scale,
            gyr=gyr_counts.astype(np.float64) * config.gyr_scale
            if gyr_counts is not None
            else None,
            saturated=saturated,
        )
        return batch, events

    def _monotonic(self, host_time: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Host times never step back, even when a refit of the clock mapping would say so.

        Downstream state machines need time to move forward; a refit moves the mapping by
        milliseconds at most, so holding samples a microsecond apart until it catches up is
        invisible to them.
        """
        floor = self._last_host_time + 1e-6 * np.arange(1, len(host_time) + 1)
        host_time = np.maximum(host_time, floor)
        self._last_host_time = float(host_time[-1])
        return host_time

    def _unwrap(self, timestamp_us: int, received_at: float) -> tuple[int, bool]:
        """Place a wrapping uint32 timestamp on the unwrapped timeline; say if the clock jumped.

        Of all candidates ``timestamp_us + k·2³²``, take the one nearest to where the host's
        clock says the sensor should be now, so even a disconnect longer than a wrap (71 min)
        resolves correctly.
        """
        if self._next_us is None or self._last_received_at is None:
            return timestamp_us, False
        predicted = self._next_us + round((received_at - self._last_received_at) * 1e6)
        k = round((predicted - timestamp_us) / TIMESTAMP_MODULUS)
        unwrapped = timestamp_us + k * TIMESTAMP_MODULUS
        return unwrapped, abs(unwrapped - predicted) > _CLOCK_JUMP_US

    def _index_of(self, unwrapped_us: int) -> int:
        assert self.config is not None
        return (unwrapped_us - self._origin_us) // self.config.sample_period_us

    def _gap(self, at_us: int, lost: int, reason: GapReason) -> StreamGap:
        self.stats.lost += lost
        self.stats.gaps += 1
        sensor_time = (at_us - self._origin_us) / 1e6
        host = float(self.clock.to_host(np.array([sensor_time]))[0]) if self.clock.ready else 0.0
        return StreamGap(sensor_time, host, lost, reason)


def _saturated(counts: npt.NDArray[np.int16]) -> npt.NDArray[np.bool_]:
    return np.any((counts == 32767) | (counts == -32768), axis=1)
