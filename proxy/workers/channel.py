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

Replies are read by a reader callback registered once, on the first ``receive``, and kept:
an answer costs one ``read`` when the loop's poll says it is there, not a failed read, an
``epoll_ctl`` to watch the pipe and another to stop (the worker writes only answers).
``close()`` unregisters it; call it before the descriptor is closed.
"""

from __future__ import annotations

import asyncio
import os
import struct
from contextlib import suppress
from multiprocessing.connection import Connection
from pickle import HIGHEST_PROTOCOL, dumps, loads
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
        self._loop: asyncio.AbstractEventLoop | None = None  # where the reader is registered
        self._waiter: asyncio.Future[None] | None = None  # receive() waiting for a whole frame
        self._eof = False

    @property
    def eof(self) -> bool:
        """The worker closed its end (it died), as the loop's reader callback has seen: a
        worker's death while idle is known without asking the process (``is_alive`` costs
        a ``waitpid``, and every system call hands the GIL to a waiting thread)."""
        return self._eof

    @property
    def watching(self) -> bool:
        """The reader callback is registered on the running loop (so ``eof`` is news)."""
        try:
            return self._loop is asyncio.get_running_loop()
        except RuntimeError:
            return False

    async def send(self, message: Any) -> None:
        """Raises OSError when the worker is gone."""
        data = dumps(message, HIGHEST_PROTOCOL)  # ForkingPickler's copies its reducers per call
        size = len(data)
        header = _SHORT.pack(size) if size <= 0x7FFFFFFF else _SHORT.pack(-1) + _LONG.pack(size)
        view = memoryview(header + data)
        while view:
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                await self._writable()
                continue
            view = view[written:]

    async def receive(self) -> Any:
        """The next message; raises EOFError when the worker closed its end (it died)."""
        while (frame := self._frame()) is None:
            if self._eof:
                raise EOFError("worker closed its end")
            self._listen()
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        start, end = frame
        payload = bytes(self._buffer[start:end])
        del self._buffer[:end]
        return loads(payload)  # noqa: S301 - our own worker, as Connection.recv() unpickles

    def close(self) -> None:
        """Stop watching the descriptor (before it is closed: a closed one's number is
        soon another connection's)."""
        if self._loop is not None:
            with suppress(RuntimeError):  # that loop is closed: it watches nothing any more
                self._loop.remove_reader(self.fd)
            self._loop = None

    def _frame(self) -> tuple[int, int] | None:
        """Where the first whole frame's pickle is in the buffer, or None."""
        if len(self._buffer) < _SHORT.size:
            return None
        (size,) = _SHORT.unpack_from(self._buffer)
        start = _SHORT.size
        if size == -1:
            if len(self._buffer) < _SHORT.size + _LONG.size:
                return None
            size, start = _LONG.unpack_from(self._buffer, _SHORT.size)[0], start + _LONG.size
        return (start, start + size) if len(self._buffer) >= start + size else None

    def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # first receive, or a test's next event loop
            self.close()
            loop.add_reader(self.fd, self._readable)
            self._loop = loop

    def _readable(self) -> None:
        try:
            chunk = os.read(self.fd, _READ)
        except BlockingIOError:
            return
        except OSError:  # the pipe broke: as good as closed
            chunk = b""
        if chunk:
            self._buffer += chunk
        else:
            self._eof = True
            self.close()  # a closed pipe stays readable: never watch it again
        waiter = self._waiter
        if waiter is not None and not waiter.done() and (self._eof or self._frame()):
            waiter.set_result(None)

    async def _writable(self) -> None:
        """Wait until the descriptor can be written without blocking."""
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        loop.add_writer(self.fd, _wake, ready)
        try:
            await ready
        finally:
            loop.remove_writer(self.fd)


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)
