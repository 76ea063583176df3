"""The proxy's end of a worker's pipe, read and written without blocking the event loop.

    channel = Channel(conn)          # after the worker said it is ready
    await channel.send(("detect", args))
    status, payload = await channel.receive()

``multiprocessing.connection.Connection`` only has blocking ``send``/``recv``: a reply of a
few megabytes (a rewritten body) or a request larger than the pipe's buffer would hold the
loop, and every connection with it, until the other side caught up. It has no asyncio API,
so its frame is written here by hand on a non-blocking descriptor: a 4-byte big-endian
signed length (``-1`` then an 8-byte length for frames over 2 GiB) and the pickle, the format
of CPython's ``Connection._send_bytes``; the worker keeps the ordinary blocking Connection.
"""

from __future__ import annotations

import asyncio
import os
import struct
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from pickle import loads
from typing import Any

_SHORT = struct.Struct("!i")
_LONG = struct.Struct("!Q")
_READ = 1 << 20


class Channel:
    def __init__(self, conn: Connection):
        self.conn = conn  # kept: it owns (and closes) the descriptor
        self.fd = conn.fileno()
        os.set_blocking(self.fd, False)
        self._buffer = bytearray()

    async def send(self, message: Any) -> None:
        """Raises OSError when the worker is gone."""
        data = bytes(ForkingPickler.dumps(message))
        size = len(data)
        header = _SHORT.pack(size) if size <= 0x7FFFFFFF else _SHORT.pack(-1) + _LONG.pack(size)
        view = memoryview(header + data)
        while view:
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                await self._ready(writable=True)
                continue
            view = view[written:]

    async def receive(self) -> Any:
        """The next message; raises EOFError when the worker closed its end (it died)."""
        size, start = await self._size()
        while len(self._buffer) < start + size:
            await self._fill()
        payload = bytes(self._buffer[start : start + size])
        del self._buffer[: start + size]
        return loads(payload)  # noqa: S301 - our own worker, as Connection.recv() unpickles

    async def _size(self) -> tuple[int, int]:
        while len(self._buffer) < _SHORT.size:
            await self._fill()
        (size,) = _SHORT.unpack_from(self._buffer)
        if size != -1:
            return size, _SHORT.size
        while len(self._buffer) < _SHORT.size + _LONG.size:
            await self._fill()
        return _LONG.unpack_from(self._buffer, _SHORT.size)[0], _SHORT.size + _LONG.size

    async def _fill(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, _READ)
            except BlockingIOError:
                await self._ready(writable=False)
                continue
            if not chunk:
                raise EOFError("worker closed its end")
            self._buffer += chunk
            return

    async def _ready(self, writable: bool) -> None:
        """Wait until the descriptor can be written (or read) without blocking."""
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        add, remove = (loop.add_writer, loop.remove_writer) if writable else (
            loop.add_reader, loop.remove_reader)
        add(self.fd, _wake, ready)
        try:
            await ready
        finally:
            remove(self.fd)


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)
