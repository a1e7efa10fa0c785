"""A real ASGI server on loopback in its own thread, and a small raw HTTP/1.1 client (anyio).

The client speaks HTTP/1.1 over a TCP stream with ``Connection: close``, so it runs on asyncio
and trio alike and can send what ready-made clients will not (a lying Content-Length, a body
in chunks, a connection cut mid-body).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterable, AsyncIterator
from concurrent.futures import Future
from contextlib import ExitStack, asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
import attrs
import hypercorn.asyncio
import hypercorn.config
import hypercorn.trio
import uvicorn
from anyio.from_thread import BlockingPortal, start_blocking_portal

SERVERS = ["uvicorn", "hypercorn-asyncio", "hypercorn-trio"]


class RunningServer:
    """``app`` served on 127.0.0.1 by ``kind`` in a thread and event loop of its own."""

    def __init__(self, kind: str, app: Any) -> None:
        self.kind = kind
        self._stack = ExitStack()
        self._portal: BlockingPortal = self._stack.enter_context(
            start_blocking_portal("trio" if kind == "hypercorn-trio" else "asyncio")
        )
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        self.port = listener.getsockname()[1]
        self._stop: anyio.Event = self._portal.call(anyio.Event)
        self._done: Future[None] = self._portal.start_task_soon(self._serve, app, listener)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, app: Any, listener: socket.socket) -> None:
        if self.kind.startswith("hypercorn"):
            config = hypercorn.config.Config()
            config.bind = [f"fd://{listener.detach()}"]
            config.graceful_timeout = 1
            config.accesslog = None
            serve = (
                hypercorn.trio.serve if self.kind == "hypercorn-trio" else hypercorn.asyncio.serve
            )
            await serve(app, config, shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]
            return
        server = uvicorn.Server(
            uvicorn.Config(app, lifespan="on", http="h11", log_config=None, access_log=False)
        )

        async def stop_when_told() -> None:
            await self._stop.wait()
            server.should_exit = True

        async with anyio.create_task_group() as group:
            group.start_soon(stop_when_told)
            await server.serve(sockets=[listener])
            group.cancel_scope.cancel()

    def stop(self) -> None:
        try:
            self._portal.call(self._stop.set)
            self._done.result(timeout=15)
        finally:
            self._stack.close()


@asynccontextmanager
async def running(kind: str, app: Any) -> AsyncIterator[RunningServer]:
    """Serve ``app`` for the block (started and stopped from a worker thread, as a server in
    another thread and event loop must be, whatever loop the test runs on)."""
    server = await anyio.to_thread.run_sync(RunningServer, kind, app)
    try:
        yield server
    finally:
        await anyio.to_thread.run_sync(server.stop)


class LateApp:
    """An ASGI app to start a server with before the real one exists (it needs the server's
    URL): lifespan is answered here, HTTP goes to ``app`` once it is set."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.app(scope, receive, send)


@attrs.frozen
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


async def request(
    url: str,
    method: str = "GET",
    *,
    headers: dict[str, str] | None = None,
    body: bytes | AsyncIterable[bytes] | None = None,
    cut_after: int | None = None,
) -> Reply:
    """Send one request and read the whole reply. A streamed ``body`` goes chunked; with
    ``cut_after`` the connection is closed after that many body bytes (and None returned
    as status 0)."""
    rest = url.removeprefix("http://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    lines = [f"{method} /{path} HTTP/1.1", f"Host: {hostport}", "Connection: close"]
    fields = dict(headers or {})
    if isinstance(body, bytes) and "Content-Length" not in fields:
        fields["Content-Length"] = str(len(body))
    elif body is not None and not isinstance(body, bytes):
        fields["Transfer-Encoding"] = "chunked"
    lines += [f"{k}: {v}" for k, v in fields.items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    with anyio.fail_after(10):
        async with await anyio.connect_tcp(host, int(port)) as stream:
            await stream.send(head)
            sent = 0
            if isinstance(body, bytes):
                if cut_after is not None:
                    await stream.send(body[:cut_after])
                    return Reply(0, {}, b"")
                await stream.send(body)
            elif body is not None:
                chunks = aiter(body)
                try:
                    async for chunk in chunks:
                        if cut_after is not None and sent + len(chunk) > cut_after:
                            return Reply(0, {}, b"")
                        sent += len(chunk)
                        await stream.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                finally:
                    close = getattr(chunks, "aclose", None)
                    if close is not None:
                        await close()
                await stream.send(b"0\r\n\r\n")
            data = b""
            while True:
                try:
                    data += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                    break
    return _parse(data)


def _parse(data: bytes) -> Reply:
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunk(body)
    elif "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return Reply(int(status_line.split(" ")[1]), headers, body)


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out
