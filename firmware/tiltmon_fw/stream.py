"""Sampling on the protocol's grid and batching samples into notifications.

The clip samples on a fixed grid since power-on: sample *k* is dated ``floor(k·10⁶/rate)`` µs of
its own clock. The board loop asks :meth:`Streamer.due` with the clock's reading, reads the IMU
when a sample is due, and hands the counts to :meth:`Streamer.add`, which returns a whole
notification every ``per_packet`` samples. The clock is an unbounded µs count (CircuitPython's
``time.monotonic_ns() // 1000``); only the wire wraps it to 32 bits.

A loop that falls behind (a long radio event, garbage collection) cannot take the samples it
missed: the partial batch is abandoned, the sequence number skips one (as for a packet lost on
air) and sampling goes on at the current grid point, so the next packet's timestamp tells the
client exactly how many samples are missing. The clip keeps no backlog.
"""

from tiltmon_fw.packets import encode_imu_packet


def grid_time_us(index: int, rate_hz: int) -> int:
    """Sensor-clock time of grid sample ``index`` (µs since power-on, not wrapped)."""
    return index * 1000000 // rate_hz


def grid_index_at(now_us: int, rate_hz: int) -> int:
    """The last grid sample taken at or before ``now_us``."""
    index = now_us * rate_hz // 1000000
    while grid_time_us(index + 1, rate_hz) <= now_us:
        index += 1
    while index > 0 and grid_time_us(index, rate_hz) > now_us:
        index -= 1
    return index


class Streamer:
    """The sample grid, the batch being filled and the packet sequence of one stream."""

    def __init__(
        self,
        rate_hz: int,
        per_packet: int,
        has_gyro: bool,
        now_us: int,
        first_sequence: int = 0,
    ) -> None:
        self.rate_hz = rate_hz
        self.per_packet = per_packet
        self.has_gyro = has_gyro
        self.sequence = first_sequence & 0xFFFF  # of the next packet built
        # Join the grid at the next tick (or this one, if it is exactly now).
        index = grid_index_at(now_us, rate_hz)
        if grid_time_us(index, rate_hz) < now_us:
            index += 1
        self.next_index = index
        self._batch: list[int] = []
        self._batch_index = index
        self.samples_missed = 0
        self.batches_abandoned = 0

    def next_due_us(self) -> int:
        """When the next sample is due (for the board loop's sleep)."""
        return grid_time_us(self.next_index, self.rate_hz)

    def due(self, now_us: int) -> bool:
        """True when a sample is due at ``now_us``: read the IMU and :meth:`add` it."""
        return now_us >= grid_time_us(self.next_index, self.rate_hz)

    def add(self, counts: "list[int] | tuple[int, ...]", now_us: int) -> "bytes | None":
        """Take the counts read at ``now_us``; the notification when a batch is complete."""
        if len(counts) != (6 if self.has_gyro else 3):
            raise ValueError(
                "a sample is %d counts, not %d" % (6 if self.has_gyro else 3, len(counts))
            )
        index = grid_index_at(now_us, self.rate_hz)
        if index < self.next_index:
            raise ValueError("no sample is due before %d µs" % self.next_due_us())
        if index > self.next_index:  # ticks passed unread: they are lost, not invented
            self.samples_missed += index - self.next_index
            if self._batch:
                self._batch = []
                self.batches_abandoned += 1
                self.sequence = (self.sequence + 1) & 0xFFFF
        if not self._batch:
            self._batch_index = index
        self._batch.extend(counts)
        self.next_index = index + 1
        if len(self._batch) < self.per_packet * (6 if self.has_gyro else 3):
            return None
        packet = encode_imu_packet(
            self.sequence,
            grid_time_us(self._batch_index, self.rate_hz),
            self._batch,
            self.has_gyro,
        )
        self.sequence = (self.sequence + 1) & 0xFFFF
        self._batch = []
        return packet
