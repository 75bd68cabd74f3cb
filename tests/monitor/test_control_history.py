"""The service's history for late clients: on disk, anonymous, sent in order while it grows."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from monitor.control import HISTORY_CHUNK, ControlServer, History

PAD = "x" * 200  # lines about as long as a notification's


def line(i: int) -> dict[str, object]:
    return {"type": "test", "i": i, "pad": PAD}


async def test_a_late_client_gets_every_line_once_and_in_order_while_more_arrive(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = run_dir / "data"
    monkeypatch.setenv("TILTMON_DATA_DIR", str(data))
    server = ControlServer(run_dir / "c.sock", {"type": "hello", "protocol": 1}, lambda _c: None)
    await server.start()
    try:
        before = 12_000  # several chunks of history: the catch-up crosses chunk boundaries
        for i in range(before):
            server.publish(line(i))
        assert os.listdir(data) == []  # the history is an anonymous file: nothing to find
        reader, writer = await asyncio.open_unix_connection(str(run_dir / "c.sock"))

        async def more() -> None:  # the sensor goes on while the client catches up
            for i in range(before, before + 3000):
                server.publish(line(i))
                if i % 50 == 0:
                    await asyncio.sleep(0)

        publisher = asyncio.create_task(more())
        seen: list[int] = []
        live_at = None
        assert json.loads(await reader.readline())["type"] == "hello"
        while len(seen) < before + 3000 or live_at is None:
            message = json.loads(await asyncio.wait_for(reader.readline(), 10))
            if message["type"] == "live":
                assert live_at is None
                live_at = len(seen)
                continue
            seen.append(message["i"])
            if len(seen) % 997 == 0:
                await asyncio.sleep(0.001)  # a slow client: the server waits for it
        await publisher
        assert seen == list(range(before + 3000))
        assert live_at is not None and live_at >= before
        writer.close()
        await writer.wait_closed()
    finally:
        await server.close()


def test_the_history_reads_back_what_was_appended_across_chunks(tmp_path: Path) -> None:
    history = History(tmp_path)
    lines = [json.dumps(line(i)).encode() + b"\n" for i in range(3000)]
    for encoded in lines:
        history.append(encoded)
    assert history.size > 2 * HISTORY_CHUNK
    got = b""
    while len(got) < history.size:
        got += history.read(len(got), HISTORY_CHUNK)
    assert got == b"".join(lines)
    assert list(tmp_path.iterdir()) == []
    history.close()
