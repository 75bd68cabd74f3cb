"""Recordings name their wire protocol; recordings from before protocols had names still play."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "recording"))

from recording_helpers import synthetic_items, write_session

from monitor.recording import Recording
from monitor.recording.summary import summarise_replay
from monitor.transport.items import LinkEventKind
from monitor.transport.replay import ReplayTransport


def _strip_protocol(path: Path) -> None:
    """Make the file look as a recorder before protocol names wrote it."""
    db = sqlite3.connect(path)
    with db:
        for seq, data in db.execute("SELECT seq, data FROM events WHERE kind = 'configured'"):
            event = json.loads(data)
            for key in ("protocol", "note"):
                event["config"].pop(key, None)
            db.execute("UPDATE events SET data = ? WHERE seq = ?", (json.dumps(event), seq))
        meta = json.loads(db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
        for key in ("protocol", "note"):
            meta.pop(key, None)
        db.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps(meta),))
        db.execute("DELETE FROM meta WHERE key = 'protocol'")
    db.close()


def test_the_protocol_is_recorded_with_the_payloads(tmp_path: Path) -> None:
    path = tmp_path / "new.tiltmon"
    write_session(path, synthetic_items(3.0))
    with Recording(path) as recording:
        assert recording.info.protocol == "tiltmon"
        configured = [
            e for e in recording.items() if getattr(e, "kind", None) is LinkEventKind.CONFIGURED
        ]
        assert configured[0].config is not None  # type: ignore[union-attr]
        assert configured[0].config.protocol == "tiltmon"  # type: ignore[union-attr]
    db = sqlite3.connect(path)
    assert json.loads(db.execute("SELECT value FROM meta WHERE key='protocol'").fetchone()[0]) == (
        "tiltmon"
    )
    db.close()


async def test_an_old_recording_without_a_protocol_replays_as_tiltmon(tmp_path: Path) -> None:
    items = synthetic_items(4.0)
    new, old = tmp_path / "new.tiltmon", tmp_path / "old.tiltmon"
    write_session(new, items)
    write_session(old, items)
    _strip_protocol(old)
    with Recording(old) as recording:
        assert recording.info.protocol == "tiltmon"
        assert recording.info.config is not None and recording.info.config.protocol == "tiltmon"
    summaries = []
    for path in (new, old):
        async with ReplayTransport(path, speed=None) as replay:
            summaries.append(await summarise_replay(replay))
    assert summaries[1].samples == summaries[0].samples > 700
    assert summaries[1].lost == summaries[0].lost == 0
