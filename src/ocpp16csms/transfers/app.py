"""The file-transfer receiver and firmware server, as an ASGI 3 application.

``FileTransferApp`` answers two kinds of URL, both carrying a signed, expiring grant
(:mod:`.grants`), so that nothing else is needed to authorise a charge point:

* ``PUT`` or ``POST /upload/<token>[/<file name>]``: a diagnostics or log upload (GetDiagnostics,
  GetLog), as the raw body or as ``multipart/form-data``; streamed to an
  :class:`~.storage.UploadStorage`, at most ``max_upload_bytes``.
* ``GET`` or ``HEAD /firmware/<token>/<file name>``: a firmware file for UpdateFirmware or
  SignedUpdateFirmware, from a :class:`~.storage.FirmwareSource`, with byte ranges (one range:
  206; several: ``multipart/byteranges``), ``ETag`` and ``If-Range``.

Run it under any ASGI server (uvicorn, hypercorn), mounted beside the OCPP app or alone; it
holds no state, so several processes sharing the grant key and the storage serve each other's
URLs. FTP is not served. See docs/fleet-operations.md.
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from .._logging import get_logger
from ..stores.device_state import TransferKind
from .grants import GrantError, GrantExpired, GrantSigner, TransferGrant
from .http import (
    ByteRange,
    MultipartError,
    MultipartReader,
    RangeNotSatisfiable,
    disposition_file_name,
    multipart_boundary,
    parse_ranges,
)
from .storage import FirmwareFile, FirmwareSource, StoredUpload, UploadStorage

__all__ = ["DEFAULT_MAX_UPLOAD_BYTES", "FileTransferApp", "UploadListener"]

log = get_logger("ocpp16csms.transfers")

DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 * 1024
"""The largest upload accepted unless told otherwise (64 MiB)."""

UploadListener = Callable[[StoredUpload], Awaitable[None] | None]
"""Called with every upload once it is stored; what it raises is logged."""

_Scope = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_DEFAULT_NAMES = {TransferKind.DIAGNOSTICS: "diagnostics", TransferKind.LOG: "log"}


class _Refused(Exception):
    def __init__(self, status: int, reason: str, headers: Iterable[tuple[bytes, bytes]] = ()):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = list(headers)


class _ClientGone(Exception):
    pass


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _header(scope: _Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if bytes(key).lower() == name:
            return bytes(value).decode("latin-1")
    return None


class FileTransferApp:
    """An ASGI 3 application receiving uploads and serving firmware; see the module docstring.

    ``storage`` (uploads) and ``firmware`` (downloads) are each optional: without one, its
    URLs answer 404. ``clock`` decides when grants expire (give the central system's).
    ``on_upload`` listeners run once an upload is stored, in this process.
    """

    def __init__(
        self,
        signer: GrantSigner,
        *,
        storage: UploadStorage | None = None,
        firmware: FirmwareSource | None = None,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        clock: Callable[[], datetime] = _utc_now,
        on_upload: Iterable[UploadListener] = (),
    ) -> None:
        if not isinstance(signer, GrantSigner):
            raise TypeError(f"signer must be a GrantSigner, got {type(signer).__name__}")
        if isinstance(max_upload_bytes, bool) or max_upload_bytes < 1:
            raise ValueError(f"max_upload_bytes must be at least 1, got {max_upload_bytes!r}")
        self.signer = signer
        self.storage = storage
        self.firmware = firmware
        self.max_upload_bytes = max_upload_bytes
        self.clock = clock
        self.listeners: list[UploadListener] = list(on_upload)

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if kind != "http":
            raise ValueError(f"unsupported ASGI scope type {kind!r}")
        try:
            await self._http(scope, receive, send)
        except _Refused as refused:
            await _respond(send, refused.status, refused.reason, refused.headers)
        except _ClientGone:
            return

    async def _http(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        path = str(scope.get("path") or "")
        root = str(scope.get("root_path") or "").rstrip("/")
        if root and path.startswith(root + "/"):
            path = path[len(root) :]
        segments = path.strip("/").split("/")
        method = str(scope.get("method", "")).upper()
        if len(segments) in (2, 3) and segments[0] == "upload":
            if method not in ("PUT", "POST"):
                raise _Refused(405, "upload with PUT or POST", [(b"allow", b"PUT, POST")])
            name = unquote(segments[2]) if len(segments) == 3 else None
            await self._upload(scope, receive, send, self._grant(segments[1], False), name)
        elif len(segments) == 3 and segments[0] == "firmware":
            if method not in ("GET", "HEAD"):
                raise _Refused(405, "download with GET or HEAD", [(b"allow", b"GET, HEAD")])
            grant = self._grant(segments[1], True)
            if grant.file_name != unquote(segments[2]):
                raise _Refused(403, "the grant is for another file")
            await self._download(scope, send, grant, head=method == "HEAD")
        else:
            raise _Refused(404, "not a file-transfer URL")

    def _grant(self, token: str, download: bool) -> TransferGrant:
        try:
            grant = self.signer.verify(token, now=self.clock())
        except GrantExpired as expired:
            raise _Refused(403, str(expired)) from None
        except GrantError:
            raise _Refused(403, "not a valid transfer grant") from None
        if grant.is_download is not download:
            raise _Refused(403, "the grant is not for this kind of transfer")
        return grant

    # -- uploads -----------------------------------------------------------------------------

    async def _upload(
        self,
        scope: _Scope,
        receive: _Receive,
        send: _Send,
        grant: TransferGrant,
        path_name: str | None,
    ) -> None:
        cp = grant.charge_point_id
        if self.storage is None:
            raise _Refused(404, "this server takes no uploads")
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_upload_bytes:
            log.warning("[%s] %s upload refused: %s bytes", cp, grant.kind.value, declared)
            raise _Refused(413, f"at most {self.max_upload_bytes} bytes")
        content_type = _header(scope, b"content-type")
        try:
            boundary = multipart_boundary(content_type)
        except MultipartError as error:
            raise _Refused(400, str(error)) from None
        body = self._body(receive)
        name = path_name or disposition_file_name(_header(scope, b"content-disposition"))
        chunks: AsyncIterator[bytes] = body
        if boundary is not None:
            reader = MultipartReader(boundary)
            first = b""
            try:
                async for chunk in body:
                    first += reader.feed(chunk)
                    if reader.headers is not None:
                        break
                name = reader.file_name or name
                content_type = (reader.headers or {}).get("content-type")
            except MultipartError as error:
                raise _Refused(400, str(error)) from None
            chunks = _parts(first, body, reader)
        name = name or _DEFAULT_NAMES.get(grant.kind, "upload")
        try:
            stored = await self.storage.store(grant, name, content_type, chunks, now=self.clock())
        except _Refused as refused:
            log.warning("[%s] %s upload refused: %s", cp, grant.kind.value, refused.reason)
            raise
        except MultipartError as error:
            raise _Refused(400, str(error)) from None
        except OSError:
            log.exception("[%s] storing a %s upload failed", cp, grant.kind.value)
            raise _Refused(500, "the upload could not be stored") from None
        finally:
            # A storage that stopped reading early leaves the generators open: close them here,
            # in this task, rather than when they are collected.
            for generator in (chunks, body):
                await generator.aclose()  # type: ignore[attr-defined]
        log.info(
            "[%s] %s upload stored: %s (%d bytes)",
            cp,
            grant.kind.value,
            stored.file_name,
            stored.size,
            extra={"charge_point_id": cp},
        )
        for listener in self.listeners:
            try:
                result = listener(stored)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("[%s] upload listener %r failed", cp, listener)
        await _respond(send, 200, f"stored {stored.file_name} ({stored.size} bytes)")

    async def _body(self, receive: _Receive) -> AsyncIterator[bytes]:
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = bytes(message.get("body") or b"")
            received += len(chunk)
            if received > self.max_upload_bytes:
                raise _Refused(413, f"at most {self.max_upload_bytes} bytes")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return

    # -- downloads -----------------------------------------------------------------------------

    async def _download(
        self, scope: _Scope, send: _Send, grant: TransferGrant, *, head: bool
    ) -> None:
        name = grant.file_name or ""
        info = None if self.firmware is None else await self.firmware.stat(name)
        if info is None or self.firmware is None:
            raise _Refused(404, "no such firmware file")
        headers = [
            (b"accept-ranges", b"bytes"),
            (b"etag", info.etag.encode("latin-1")),
            (b"cache-control", b"no-store"),
        ]
        wanted = _header(scope, b"range")
        if_range = _header(scope, b"if-range")
        if if_range is not None and if_range.strip() != info.etag:
            wanted = None  # the file changed since the client's first part: send it whole
        try:
            ranges = parse_ranges(wanted, info.size)
        except RangeNotSatisfiable as error:
            raise _Refused(
                416, str(error), [(b"content-range", f"bytes */{info.size}".encode())]
            ) from None
        log.info(
            "[%s] firmware %s: %s %s",
            grant.charge_point_id,
            name,
            "HEAD" if head else "GET",
            "whole" if ranges is None else ",".join(f"{r.start}-{r.end - 1}" for r in ranges),
            extra={"charge_point_id": grant.charge_point_id},
        )
        if ranges is None:
            await self._send_file(send, info, 200, headers, [ByteRange(0, info.size)], None, head)
        elif len(ranges) == 1:
            (only,) = ranges
            headers.append(
                (b"content-range", f"bytes {only.start}-{only.end - 1}/{info.size}".encode())
            )
            await self._send_file(send, info, 206, headers, [only], None, head)
        else:
            boundary = secrets.token_hex(16)
            await self._send_file(send, info, 206, headers, list(ranges), boundary, head)

    async def _send_file(
        self,
        send: _Send,
        info: FirmwareFile,
        status: int,
        headers: list[tuple[bytes, bytes]],
        ranges: list[ByteRange],
        boundary: str | None,
        head: bool,
    ) -> None:
        assert self.firmware is not None

        def part_head(r: ByteRange) -> bytes:
            return (
                f"--{boundary}\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Range: bytes {r.start}-{r.end - 1}/{info.size}\r\n\r\n"
            ).encode("latin-1")

        closing = f"--{boundary}--\r\n".encode("latin-1")
        if boundary is None:
            length = sum(r.length for r in ranges)
            content_type = b"application/octet-stream"
        else:
            length = sum(len(part_head(r)) + r.length + 2 for r in ranges) + len(closing)
            content_type = f"multipart/byteranges; boundary={boundary}".encode("latin-1")
        headers = [
            *headers,
            (b"content-type", content_type),
            (b"content-length", str(length).encode("ascii")),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if head:
            await send({"type": "http.response.body", "body": b""})
            return
        for r in ranges:
            if boundary is not None:
                await send({"type": "http.response.body", "body": part_head(r), "more_body": True})
            async for chunk in self.firmware.read(info.name, r.start, r.end):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if boundary is not None:
                await send({"type": "http.response.body", "body": b"\r\n", "more_body": True})
        await send({"type": "http.response.body", "body": closing if boundary else b""})


async def _parts(
    first: bytes, body: AsyncIterator[bytes], reader: MultipartReader
) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in body:
        data = reader.feed(chunk)
        if data:
            yield data
    reader.close()


async def _respond(
    send: _Send, status: int, text: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    body = (text + "\n").encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode("ascii")),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
