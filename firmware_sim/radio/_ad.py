"""Advertising-data decoding for the virtual radio's bleak scanner.

bleak hands applications one :class:`~bleak.backends.scanner.AdvertisementData` per device that
sums up everything heard from it during the scan (BlueZ keeps the device's properties and
updates them with every advertisement or scan response). :class:`AdvertisementAccumulator`
does the same with the raw AD structures that bumble reports.
"""

from __future__ import annotations

import uuid as _uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bleak.backends.scanner import AdvertisementData
from bleak.uuids import normalize_uuid_16, normalize_uuid_32

# AD types (Bluetooth Assigned Numbers, "Common Data Types")
AD_INCOMPLETE_UUIDS_16 = 0x02
AD_COMPLETE_UUIDS_16 = 0x03
AD_INCOMPLETE_UUIDS_32 = 0x04
AD_COMPLETE_UUIDS_32 = 0x05
AD_INCOMPLETE_UUIDS_128 = 0x06
AD_COMPLETE_UUIDS_128 = 0x07
AD_SHORTENED_LOCAL_NAME = 0x08
AD_COMPLETE_LOCAL_NAME = 0x09
AD_TX_POWER_LEVEL = 0x0A
AD_SERVICE_DATA_16 = 0x16
AD_SERVICE_DATA_32 = 0x20
AD_SERVICE_DATA_128 = 0x21
AD_MANUFACTURER_SPECIFIC_DATA = 0xFF

_UUID_LIST_WIDTH = {
    AD_INCOMPLETE_UUIDS_16: 2,
    AD_COMPLETE_UUIDS_16: 2,
    AD_INCOMPLETE_UUIDS_32: 4,
    AD_COMPLETE_UUIDS_32: 4,
    AD_INCOMPLETE_UUIDS_128: 16,
    AD_COMPLETE_UUIDS_128: 16,
}
_SERVICE_DATA_UUID_WIDTH = {AD_SERVICE_DATA_16: 2, AD_SERVICE_DATA_32: 4, AD_SERVICE_DATA_128: 16}


def uuid_from_le_bytes(data: bytes) -> str:
    """A 16-, 32- or 128-bit UUID in over-the-air (little-endian) order, as bleak spells it."""
    if len(data) == 2:
        return normalize_uuid_16(int.from_bytes(data, "little"))
    if len(data) == 4:
        return normalize_uuid_32(int.from_bytes(data, "little"))
    if len(data) == 16:
        return str(_uuid.UUID(bytes=bytes(reversed(data))))
    raise ValueError(f"a UUID is 2, 4 or 16 bytes long, not {len(data)}")


@dataclass
class AdvertisementAccumulator:
    """Everything one device advertised so far during a scan (advertisements + scan responses).

    Later values replace earlier ones key by key; service UUIDs accumulate; a complete local
    name is never replaced by a shortened one.
    """

    local_name: str | None = None
    name_is_complete: bool = False
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    service_data: dict[str, bytes] = field(default_factory=dict)
    service_uuids: list[str] = field(default_factory=list)
    tx_power: int | None = None

    def update(self, ad_structures: Iterable[tuple[int, bytes]]) -> None:
        """Merge AD structures ``(type, payload)`` heard in one advertising report."""
        for ad_type_raw, payload_raw in ad_structures:
            ad_type = int(ad_type_raw)
            payload = bytes(payload_raw)
            if ad_type in (AD_COMPLETE_LOCAL_NAME, AD_SHORTENED_LOCAL_NAME):
                self._update_name(payload, complete=ad_type == AD_COMPLETE_LOCAL_NAME)
            elif ad_type in _UUID_LIST_WIDTH:
                width = _UUID_LIST_WIDTH[ad_type]
                for start in range(0, len(payload) - width + 1, width):
                    uuid = uuid_from_le_bytes(payload[start : start + width])
                    if uuid not in self.service_uuids:
                        self.service_uuids.append(uuid)
            elif ad_type in _SERVICE_DATA_UUID_WIDTH:
                width = _SERVICE_DATA_UUID_WIDTH[ad_type]
                if len(payload) >= width:
                    self.service_data[uuid_from_le_bytes(payload[:width])] = payload[width:]
            elif ad_type == AD_MANUFACTURER_SPECIFIC_DATA:
                if len(payload) >= 2:
                    company = int.from_bytes(payload[:2], "little")
                    self.manufacturer_data[company] = payload[2:]
            elif ad_type == AD_TX_POWER_LEVEL and len(payload) >= 1:
                self.tx_power = int.from_bytes(payload[:1], "little", signed=True)

    def _update_name(self, payload: bytes, *, complete: bool) -> None:
        if self.name_is_complete and not complete:
            return
        self.local_name = payload.decode("utf-8", errors="replace")
        self.name_is_complete = complete

    def snapshot(self, rssi: int, platform_data: tuple[Any, ...] = ()) -> AdvertisementData:
        """The bleak view of what has been heard so far (copies, safe to hand out)."""
        return AdvertisementData(
            local_name=self.local_name,
            manufacturer_data=dict(self.manufacturer_data),
            service_data=dict(self.service_data),
            service_uuids=list(self.service_uuids),
            tx_power=self.tx_power,
            rssi=rssi,
            platform_data=platform_data,
        )
