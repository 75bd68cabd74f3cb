"""The headless service's control socket: an owner-only Unix domain socket, never the network.

A client (``tiltmon attach``, the dashboard with ``--attach``) connects and receives, as JSON
lines: a ``hello``, then every transport item the service's pipeline has taken since it started,
a ``live`` marker where that history ends, then each item as it comes; the wearer's answers
(snooze, dismiss, new settings) come between the items where the service applied them. Running
the same pipeline over the same items and answers, the client arrives at exactly the service's
state (the pipeline takes time only from its items), so the dashboard shows the service's day
without the service sending any screen state. The client sends commands (``snooze`` with its
length in minutes, ``dismiss``, ``config``); the service applies them and echoes them as answers
to every client. Closing the connection detaches; the service carries on.

The socket lives in ``$XDG_RUNTIME_DIR/tiltmon/`` (a per-user tmpfs that logout clears), else in
the data directory; its directory is 0700 and the socket 0600.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from monitor.errors import MonitorError
from monitor.private_files import make_private_dirs
from monitor.recording.paths import data_dir
from monitor.recording.schema import link_event_data, link_event_from
from monitor.transport.items import Notification, TransportItem

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
SOCKET_ENV_VAR = "TILTMON_SOCKET"
SOCKET_NAME = "control.sock"
CLIENT_BUFFER_LIMIT = 64 * 1024 * 1024  # a client this far behind is dropped (it may reattach)
LINE_LIMIT = 1024 * 1024  # the longest line either side accepts
HISTORY_CHUNK = 256 * 1024  # a late client gets the day so far this much at a time

Message = dict[str, Any]


class ControlError(MonitorError):
    """No service to attach to, another one running, or a broken conversation."""


def control_socket_path() -> Path:
    """``$TILTMON_SOCKET``, else ``$XDG_RUNTIME_DIR/tiltmon/control.sock``, else the data dir's."""
    override = os.environ.get(SOCKET_ENV_VAR)
    if override:
        return Path(override)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "tiltmon" / SOCKET_NAME
    return data_dir() / SOCKET_NAME


# --- the wire ------------------------------------------------------------------------------------


def item_message(item: TransportItem) -> Message:
    if isinstance(item, Notification):
        payload = base64.b64encode(item.payload).decode("ascii")  # a third smaller than hex
        return {"type": "notification", "at": item.received_at, "payload": payload}
    return {"type": "link", "at": item.at, "kind": item.kind.value, "data": link_event_data(item)}


def item_from(message: Message) -> TransportItem | None:
    """The transport item a message carries (None: not an item, or a link kind unknown here)."""
    kind = message.get("type")
    if kind == "notification":
        return Notification(float(message["at"]), base64.b64decode(message["payload"]))
    if kind == "link":
        return link_event_from(float(message["at"]), str(message["kind"]), dict(message["data"]))
    return None


def encode(message: Message) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> Message:
    try:
        message = json.loads(line)
    except ValueError as exc:
        raise ControlError(f"a malformed line on the control socket: {exc}") from None
    if not isinstance(message, dict):
        raise ControlError("a malformed line on the control socket: not an object")
    return message


# --- the service's side --------------------------------------------------------------------------


class History:
    """Every line the service published, in order, kept on disk rather than in memory: a
    service runs all day and for days (about 7 MB an hour at 100 Hz).

    The file is anonymous (``O_TMPFILE`` where the system has it; unlinked at once otherwise)
    and owner-only in the data directory: nothing of it outlives the process, even a crash.
    """

    def __init__(self, directory: Path | None = None) -> None:
        directory = directory or data_dir()
        make_private_dirs(directory)
        self._file = tempfile.TemporaryFile(dir=directory, buffering=0)  # noqa: SIM115 - closed by close()
        self.size = 0

    def append(self, line: bytes) -> None:
        self._file.write(line)  # unbuffered: a client catching up reads it at once
        self.size += len(line)

    def read(self, offset: int, limit: int) -> bytes:
        return os.pread(self._file.fileno(), min(limit, self.size - offset), offset)

    def close(self) -> None:
        self._file.close()


class ControlServer:
    """Serves the stream's items and answers to attached clients, and takes their commands.

    ``on_command(message)`` is called for each command a client sends; it returns an error text
    to send back (the command was refused) or None.
    """

    def __init__(
        self,
        path: Path,
        hello: Message,
        on_command: Callable[[Message], str | None],
    ) -> None:
        self.path = path
        self.hello = hello
        self.on_command = on_command
        self._history: History | None = None  # every item and answer so far, encoded
        self._clients: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None

    @property
    def clients(self) -> int:
        return len(self._clients)

    async def start(self) -> None:
        make_private_dirs(self.path.parent)  # a directory it creates is 0700; others untouched
        await _claim(self.path)
        self._history = History()
        # The socket is created owner-only: no moment when another user could connect.
        old_umask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=LINE_LIMIT
            )
        finally:
            os.umask(old_umask)
        self.path.chmod(0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._clients):
            writer.close()
        self._clients.clear()
        if self._handlers:  # each closes its connection on the way out
            await asyncio.wait(self._handlers, timeout=5)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        with contextlib.suppress(OSError):
            _remove(self.path)
        if self._history is not None:
            self._history.close()

    def publish(self, message: Message) -> None:
        """Keep ``message`` for later clients and send it to those attached."""
        line = encode(message)
        if self._history is None:
            raise RuntimeError("start the control server before publishing")
        self._history.append(line)
        for writer in list(self._clients):
            self._send(writer, line)

    def _send(self, writer: asyncio.StreamWriter, line: bytes) -> None:
        if writer.is_closing():
            self._clients.discard(writer)
            return
        if writer.transport.get_write_buffer_size() > CLIENT_BUFFER_LIMIT:
            log.warning("a client fell too far behind and was detached")
            self._clients.discard(writer)
            writer.close()
            return
        writer.write(line)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None and not peer_is_owner(sock):
            log.warning("refused a connection from another user")
            writer.close()
            return
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)
        try:
            writer.write(encode(self.hello | {"clients": self.clients + 1}))
            await self._catch_up(writer)
            # No await from the history's end to here: every line published from now on is
            # sent to this client live, none twice and none missed.
            writer.write(encode({"type": "live"}))  # the history ends here: what follows is live
            self._clients.add(writer)
            while line := await reader.readline():
                try:
                    command = decode(line)
                except ControlError as exc:
                    writer.write(encode({"type": "error", "error": str(exc)}))
                    continue
                error = self.on_command(command)
                if error is not None:
                    writer.write(encode({"type": "error", "error": error}))
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # a client that went away mid-line has detached
        finally:
            self._clients.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _catch_up(self, writer: asyncio.StreamWriter) -> None:
        """The history so far, a chunk at a time as the client takes it (memory stays flat
        however long the service has run); lines published meanwhile are read too."""
        history = self._history
        assert history is not None
        offset = 0
        while offset < history.size:
            chunk = history.read(offset, HISTORY_CHUNK)
            offset += len(chunk)
            writer.write(chunk)
            await writer.drain()


async def _claim(path: Path) -> None:
    """Make room for the socket: refuse if a service answers there, remove a stale socket."""
    if not _existing_socket(path):
        return
    try:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=LINE_LIMIT)
    except OSError:
        _remove(path)  # left by a service that did not close (killed, power cut)
        return
    # Wait for its hello: the other service has then taken the connection, and our leaving is
    # an ordinary detach for it (closing mid-accept trips up asyncio's server).
    with contextlib.suppress(OSError, TimeoutError, ValueError):
        await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    raise ControlError(f"a tiltmon service is already running (its socket is {path})")


def _existing_socket(path: Path) -> bool:
    if not path.exists() and not path.is_symlink():
        return False
    if not path.is_socket():
        raise ControlError(f"{path} exists and is not a socket: not touching it")
    return True


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


# --- the client's side ---------------------------------------------------------------------------


class AttachedTransport:
    """The service's stream as a transport: its items, as the service's pipeline took them.

    The wearer's answers arrive between the items where the service applied them; each is handed
    to :attr:`on_answer` before the next item is yielded, so a mirror pipeline applies it at the
    same point. :meth:`send` sends a command. Leaving the context detaches; the service goes on.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or control_socket_path()
        self.hello: Message = {}
        self.on_answer: Callable[[Message], None] | None = None
        self.on_caught_up: Callable[[], None] | None = None  # the history is through
        self.errors: list[str] = []  # commands the service refused, with its reason
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def connect(self) -> Message:
        """Connect and read the service's hello (idempotent)."""
        if self._reader is not None:
            return self.hello
        try:
            self._reader, self._writer = await asyncio.open_unix_connection(
                str(self.path), limit=LINE_LIMIT
            )
        except (FileNotFoundError, ConnectionRefusedError):
            raise ControlError(
                f"no tiltmon service is running (no socket at {self.path});"
                " start one with `tiltmon service run`"
            ) from None
        except OSError as exc:
            raise ControlError(f"cannot reach the tiltmon service at {self.path}: {exc}") from None
        line = await self._reader.readline()
        hello = decode(line) if line else {}
        if hello.get("type") != "hello" or hello.get("protocol") != PROTOCOL_VERSION:
            await self._close()
            raise ControlError(f"{self.path} does not answer like a tiltmon service")
        self.hello = hello
        return hello

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def send(self, command: str, **fields: Any) -> None:
        if self._writer is None or self._writer.is_closing():
            raise ControlError("not attached to the tiltmon service")
        self._writer.write(encode({"cmd": command, **fields}))

    def __aiter__(self) -> AsyncIterator[TransportItem]:
        return self._run()

    async def _run(self) -> AsyncIterator[TransportItem]:
        if self._reader is None:
            raise RuntimeError("use `async with` on the attached transport first")
        reader = self._reader
        while line := await reader.readline():
            message = decode(line)
            kind = message.get("type")
            if kind == "answer":
                if self.on_answer is not None:
                    self.on_answer(message)
                continue
            if kind == "live":
                if self.on_caught_up is not None:
                    self.on_caught_up()
                continue
            if kind == "error":
                self.errors.append(str(message.get("error", "")))
                log.warning("the service refused a command: %s", message.get("error"))
                continue
            try:
                item = item_from(message)
            except (KeyError, TypeError, ValueError, MonitorError) as exc:
                raise ControlError(f"a malformed {kind!r} message: {exc}") from None
            if item is not None:
                yield item
        # The service ended (stopped, or restarted): the stream ends as a replay's does.

    @property
    def overflowed(self) -> int:
        return 0


def peer_is_owner(sock: socket.socket) -> bool:
    """Whether the process at the other end runs as this user (Linux: SO_PEERCRED)."""
    cred = getattr(socket, "SO_PEERCRED", None)
    if cred is None:
        return True  # the 0600 socket and 0700 directory already keep others out
    import struct

    data = sock.getsockopt(socket.SOL_SOCKET, cred, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", data)
    return bool(uid == os.getuid())


__all__ = [
    "AttachedTransport",
    "ControlError",
    "ControlServer",
    "control_socket_path",
    "item_from",
    "item_message",
]
