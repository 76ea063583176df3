"""The proxy's end of a worker pipe: replies read by one reader callback registered once.

The peer is a socketpair end written with ``Connection.send`` (the worker's side), or with
raw bytes to cut frames where a test wants them.
"""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct
from multiprocessing.connection import Connection

import pytest

from proxy.workers.channel import Channel


def pair() -> tuple[Channel, Connection, socket.socket]:
    ours, theirs = socket.socketpair()
    peer_sock = theirs.dup()
    return Channel(Connection(ours.detach())), Connection(theirs.detach()), peer_sock


def watched(fd: int) -> bool:
    """Is ``fd`` registered with the running loop's selector?"""
    selector = asyncio.get_running_loop()._selector  # type: ignore[attr-defined]
    try:
        selector.get_key(fd)
    except KeyError:
        return False
    return True


def test_replies_in_order_with_the_reader_registered_once():
    channel, peer, raw = pair()

    async def main():
        got = []
        for i in range(3):
            await channel.send(("detect", i))
            op, n = peer.recv()
            peer.send(("ok", (op, n * 10)))
            got.append(await channel.receive())
            assert watched(channel.fd)  # kept between calls: no epoll_ctl per reply
        channel.close()
        assert not watched(channel.fd)
        return got

    try:
        assert asyncio.run(main()) == [("ok", ("detect", 0)), ("ok", ("detect", 10)),
                                       ("ok", ("detect", 20))]
    finally:
        channel.conn.close(), peer.close(), raw.close()


def test_a_frame_in_pieces_and_two_frames_in_one_read():
    channel, peer, raw = pair()
    messages = [("ok", "a" * 5000), ("ok", "b"), ("ok", "c")]
    blob = b"".join(struct.pack("!i", len(p)) + p for p in map(pickle.dumps, messages))

    async def main():
        raw.sendall(blob[:7])  # a header and a little of the first frame
        first = asyncio.ensure_future(channel.receive())
        await asyncio.sleep(0.01)  # not ordering: the frame is not whole, it must not end
        assert not first.done()
        raw.sendall(blob[7:])  # the rest of the first, then two whole frames at once
        return [await first, await channel.receive(), await channel.receive()]

    try:
        assert asyncio.run(main()) == messages
    finally:
        channel.close()
        channel.conn.close(), peer.close(), raw.close()


def test_eof_while_waiting_is_an_error_and_stops_watching():
    channel, peer, raw = pair()

    async def main():
        waiting = asyncio.ensure_future(channel.receive())
        await asyncio.sleep(0)
        assert watched(channel.fd)
        peer.close(), raw.close()  # the worker died
        with pytest.raises(EOFError):
            await asyncio.wait_for(waiting, 30)
        assert not watched(channel.fd)  # a closed pipe stays readable: never watched again
        with pytest.raises(EOFError):
            await channel.receive()

    try:
        asyncio.run(main())
    finally:
        channel.conn.close()


def test_a_later_event_loop_gets_the_replies():
    channel, peer, raw = pair()

    async def one(n: int):
        await channel.send(n)
        peer.send(("ok", peer.recv() + 1))
        return await asyncio.wait_for(channel.receive(), 30)

    try:
        assert asyncio.run(one(1)) == ("ok", 2)
        assert asyncio.run(one(2)) == ("ok", 3)  # the first loop is closed by now
    finally:
        channel.close()
        channel.conn.close(), peer.close(), raw.close()
