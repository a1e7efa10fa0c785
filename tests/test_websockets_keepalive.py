"""Keepalive pings: one task pings every connection of a server; a peer that leaves a pong
owed past the timeout is closed with 1011, one that answers stays (docs/transports.md)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import struct

import pytest

from harness import make_central_system, wait_until
from ocpp16csms.transports._keepalive import Keepalive
from ocpp16csms.transports.websockets import WebSocketOptions, serve

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """The keepalive is the websockets adapter's, which runs on asyncio only."""
    return "asyncio"


class RawClient:
    """A WebSocket client on a bare socket, so the test decides whether pongs are sent."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int, charge_point_id: str) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /ocpp/{charge_point_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def frame(self) -> tuple[int, bytes]:
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first & 0x0F, await self.reader.readexactly(length)

    def send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def test_a_peer_that_answers_pings_stays_and_one_that_does_not_is_closed_with_1011() -> None:
    cs = make_central_system(unknown_charge_points="accept")
    options = WebSocketOptions(ping_interval=0.2, ping_timeout=0.3, close_timeout=0.5)
    async with cs, await serve(cs, "127.0.0.1", 0, options=options) as server:
        polite = await RawClient.connect(server.port, "CP1")
        mute = await RawClient.connect(server.port, "CP2")
        await wait_until(lambda: cs.connected_charge_points == {"CP1", "CP2"})
        loop = asyncio.get_running_loop()
        started = loop.time()
        pings = 0
        while loop.time() - started < 1.2:  # four intervals: every ping answered
            opcode, payload = await asyncio.wait_for(polite.frame(), 2)
            assert opcode == 0x9
            polite.send(0xA, payload)
            pings += 1
        assert 3 <= pings <= 8
        # The mute peer got its first ping and, owing the pong past the timeout, a close.
        opcode, _ = await asyncio.wait_for(mute.frame(), 2)
        assert opcode == 0x9
        while opcode == 0x9:  # pings every interval until the pong counts as overdue
            opcode, payload = await asyncio.wait_for(mute.frame(), 2)
        assert opcode == 0x8
        assert struct.unpack("!H", payload[:2])[0] == 1011
        assert payload[2:] == b"keepalive ping timeout"
        await wait_until(lambda: cs.connected_charge_points == {"CP1"})
        await polite.close()
        await mute.close()
        await wait_until(lambda: not cs.connected_charge_points)


async def test_one_peer_that_reads_nothing_does_not_hold_up_the_pings_of_others() -> None:
    """Flow control stalls sending to a peer that reads nothing; pings to others go on, and
    the stalled one is dropped once its pong (its ping, even) is overdue."""
    cs = make_central_system(unknown_charge_points="accept")
    options = WebSocketOptions(ping_interval=0.2, ping_timeout=0.5, close_timeout=0.5)
    async with cs, await serve(cs, "127.0.0.1", 0, options=options) as server:
        stuck = await RawClient.connect(server.port, "STUCK")
        stuck.writer.transport.pause_reading()  # type: ignore[attr-defined]
        polite = await RawClient.connect(server.port, "CP1")
        await wait_until(lambda: cs.connected_charge_points == {"STUCK", "CP1"})
        # Send to the stuck peer until the server's sends to it block (socket buffers full).
        connection = cs._links["STUCK"].driver.connection
        big = "x" * 1_000_000
        blocked = False
        for _ in range(200):
            try:
                await asyncio.wait_for(connection.send(big), 0.2)
            except TimeoutError:
                blocked = True
                break
        assert blocked
        loop = asyncio.get_running_loop()
        started = loop.time()
        pings = 0
        while loop.time() - started < 1.0:
            opcode, payload = await asyncio.wait_for(polite.frame(), 2)
            assert opcode == 0x9
            polite.send(0xA, payload)
            pings += 1
        assert pings >= 3
        await wait_until(lambda: "STUCK" not in cs.connected_charge_points, timeout=5)
        assert "CP1" in cs.connected_charge_points
        await stuck.close()
        await polite.close()


async def test_closed_connections_are_forgotten_and_the_task_ends_with_the_last() -> None:
    closed: list[object] = []

    async def on_dead(peer: object) -> None:
        closed.append(peer)

    keepalive = Keepalive(0.05, 0.05, on_dead)

    class Peer:
        def __init__(self) -> None:
            self.pings = 0

        async def ping(self) -> asyncio.Future[float]:
            self.pings += 1
            pong: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            pong.set_result(0.0)
            return pong

    peers = [Peer() for _ in range(3)]
    keys = [keepalive.add(peer) for peer in peers]
    await asyncio.sleep(0.3)
    assert all(peer.pings >= 3 for peer in peers)
    assert closed == []
    keepalive.discard(keys[0])
    before = peers[0].pings
    await asyncio.sleep(0.2)
    assert peers[0].pings == before
    assert len(keepalive) == 2
    for key in keys[1:]:
        keepalive.discard(key)
    await wait_until(lambda: keepalive._task is None)


async def test_a_peer_whose_pong_never_comes_is_handed_to_on_dead_once() -> None:
    dead: list[object] = []

    async def on_dead(peer: object) -> None:
        dead.append(peer)

    class Mute:
        async def ping(self) -> asyncio.Future[float]:
            return asyncio.get_running_loop().create_future()  # never answered

    keepalive = Keepalive(0.05, 0.1, on_dead)
    mute = Mute()
    keepalive.add(mute)
    await wait_until(lambda: dead == [mute])
    await asyncio.sleep(0.3)
    assert dead == [mute]
    assert len(keepalive) == 0


@pytest.mark.parametrize("field", ["ping_interval", "ping_timeout"])
@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan"), True, "60"])
def test_keepalive_options_must_be_positive_finite_seconds_or_none(
    field: str, value: object
) -> None:
    with pytest.raises(ValueError, match=field):
        WebSocketOptions(**{field: value})  # type: ignore[arg-type]
    assert getattr(WebSocketOptions(**{field: None}), field) is None  # type: ignore[arg-type]
