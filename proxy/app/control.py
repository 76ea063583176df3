"""The supervisor's line to each proxy process: one JSON object per line over a socket pair.

    parent_sock, child_sock = socket.socketpair()
    line = await Line.open(parent_sock)
    await line.send({"op": "prepare", "policy": encode(raw)})
    reply = await line.receive()          # None once the other side is gone
    settings_from_json(settings_to_json(settings)) == settings   # RunSettings on the line

JSON rather than pickle: the child trusts nothing it has to execute, and every message is
a small dict of strings and numbers (policy bytes travel base64-encoded).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import socket
from pathlib import Path

from proxy.app.settings import RunSettings

LIMIT = 64 * 1024 * 1024  # a policy with large inline lists still fits on one line
_PATHS = ("policy", "data_dir")


def encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def decode(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


class Line:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self._send_lock = asyncio.Lock()

    @classmethod
    async def open(cls, sock: socket.socket) -> Line:
        reader, writer = await asyncio.open_connection(sock=sock, limit=LIMIT)
        return cls(reader, writer)

    async def send(self, message: dict) -> None:
        async with self._send_lock:
            self.writer.write(json.dumps(message).encode() + b"\n")
            await self.writer.drain()

    async def receive(self) -> dict | None:
        try:
            line = await self.reader.readline()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            return None
        if not line:
            return None
        message = json.loads(line)
        return message if isinstance(message, dict) else None

    def close(self) -> None:
        self.writer.close()


def settings_to_json(settings: RunSettings) -> dict:
    """RunSettings as JSON-able values.

    >>> s = RunSettings(policy=Path("p.yaml"), sets=("ignore_hosts=x",), workers=1)
    >>> settings_from_json(settings_to_json(s)) == s
    True
    """
    data = dataclasses.asdict(settings)
    for name in _PATHS:
        data[name] = str(data[name])
    return data


def settings_from_json(data: dict) -> RunSettings:
    values = dict(data)
    for name in _PATHS:
        values[name] = Path(values[name])
    values["sets"] = tuple(values["sets"])
    return RunSettings(**values)
