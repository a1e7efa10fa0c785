"""File transfers (ocpp16csms.transfers, transports/file_transfer.py).

The pure parts (grants, multipart, ranges, names) directly; the ASGI app under real servers
(uvicorn, hypercorn on asyncio and on trio) on loopback, spoken to by a raw HTTP client
(tests/_http.py), with the central system and a simulated charge point in the test's loop.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _http import SERVERS, LateApp, request, running
from harness import BOOT, T0, connected, make_central_system, wait_until
from ocpp16csms import InvalidRequest
from ocpp16csms.messages import (
    DiagnosticsStatus,
    DiagnosticsStatusNotificationRequest,
    GetDiagnosticsRequest,
    GetDiagnosticsResponse,
    GetLogRequest,
    LogStatusNotificationRequest,
    LogType,
    UpdateFirmwareRequest,
    UploadLogStatus,
)
from ocpp16csms.stores.device_state import TransferKind
from ocpp16csms.transfers import (
    FilesystemUploadStorage,
    FileTransferApp,
    FirmwareDirectory,
    GrantError,
    GrantExpired,
    GrantSigner,
    MultipartError,
    MultipartReader,
    RangeNotSatisfiable,
    disposition_file_name,
    multipart_boundary,
    parse_ranges,
    read_firmware,
    safe_file_name,
)
from ocpp16csms.transports.file_transfer import FileTransfers, UploadView

KEY = b"secret grant key for tests, 32B"
FIRMWARE = bytes(range(256)) * 40 + b"end"


# -- grants --------------------------------------------------------------------------------------


@given(
    cp=st.text(min_size=1, max_size=48),
    request_id=st.none() | st.integers(-(2**63), 2**63 - 1),
    kind=st.sampled_from(list(TransferKind)),
    name=st.none() | st.text(min_size=1, max_size=40),
)
def test_a_grant_round_trips_through_its_token(
    cp: str, request_id: int | None, kind: TransferKind, name: str | None
) -> None:
    signer = GrantSigner(KEY)
    grant = signer.grant(kind, cp, now=T0, valid_for=60, request_id=request_id, file_name=name)
    token = signer.token(grant)
    assert token.isascii()
    assert "/" not in token
    assert "=" not in token
    assert signer.verify(token, now=T0) == grant
    with pytest.raises(GrantExpired):
        signer.verify(token, now=T0 + timedelta(seconds=60))
    assert signer.verify(token, now=None) == grant  # reading an old URL back


def test_tokens_cannot_be_forged_or_moved_between_keys() -> None:
    signer = GrantSigner(KEY)
    grant = signer.grant(TransferKind.LOG, "CP1", now=T0, valid_for=60, request_id=4)
    token = signer.token(grant)
    # Every single-character change is refused (a bit of the payload or of the tag).
    for position in range(len(token)):
        replacement = "A" if token[position] != "A" else "B"
        forged = token[:position] + replacement + token[position + 1 :]
        with pytest.raises(GrantError):
            signer.verify(forged, now=T0)
    with pytest.raises(GrantError):
        GrantSigner(b"x" * 32).verify(token, now=T0)
    assert GrantSigner(b"x" * 32, old_keys=[KEY]).verify(token, now=T0) == grant
    for bad in ("", "!!!", "AAAA"):
        with pytest.raises(GrantError):
            signer.verify(bad, now=T0)
    with pytest.raises(ValueError, match="16 bytes"):
        GrantSigner(b"short")
    assert "secret" not in repr(signer)
    # Two grants for the same transfer are different URLs.
    again = signer.grant(TransferKind.LOG, "CP1", now=T0, valid_for=60, request_id=4)
    assert signer.token(again) != token


# -- multipart, ranges, names ----------------------------------------------------------------------


def _form(content: bytes, boundary: bytes, name: bytes = b"diag.zip") -> bytes:
    return (
        b"preamble\r\n--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="note"\r\n\r\n'
        b"hello\r\n--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="' + name + b'"\r\n'
        b"Content-Type: application/zip\r\n\r\n" + content + b"\r\n--" + boundary + b"--\r\n"
    )


@given(
    content=st.binary(max_size=600),
    cuts=st.lists(st.integers(0, 800), max_size=8),
    boundary=st.sampled_from([b"b", b"----WebKitFormBoundary7MA4YWxk", b"x" * 70]),
)
def test_multipart_file_parts_come_out_whole_however_the_body_is_cut(
    content: bytes, cuts: list[int], boundary: bytes
) -> None:
    # The boundary must not occur in the content (the sender chooses it so).
    content = content.replace(b"\r\n--" + boundary, b"")
    body = _form(content, boundary)
    reader = MultipartReader(boundary)
    out = b""
    previous = 0
    for cut in [*sorted(c for c in cuts if c <= len(body)), len(body)]:
        out += reader.feed(body[previous:cut])
        previous = cut
    reader.close()
    assert out == content
    assert reader.file_name == "diag.zip"
    assert reader.headers is not None
    assert reader.headers["content-type"] == "application/zip"


def test_malformed_multipart_bodies_are_refused() -> None:
    reader = MultipartReader(b"b")
    reader.feed(_form(b"data", b"b")[:-10])
    with pytest.raises(MultipartError, match="closing boundary"):
        reader.close()
    reader = MultipartReader(b"b")
    reader.feed(b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n--b--\r\n")
    with pytest.raises(MultipartError, match="no part with a file name"):
        reader.close()
    with pytest.raises(MultipartError, match="colon"):
        MultipartReader(b"b").feed(b"--b\r\nnot a header\r\n\r\n")
    with pytest.raises(MultipartError, match="boundary"):
        multipart_boundary("multipart/form-data")
    assert multipart_boundary('multipart/form-data; boundary="a b"') == b"a b"
    assert multipart_boundary("application/octet-stream") is None


def test_file_names() -> None:
    assert disposition_file_name('attachment; filename="a \\"b\\".log"') == 'a "b".log'
    assert disposition_file_name("attachment; filename*=UTF-8''d%C3%A9j%C3%A0.log") == "déjà.log"
    assert disposition_file_name("attachment; filename=plain.txt") == "plain.txt"
    assert disposition_file_name("inline") is None
    assert safe_file_name("../../etc/passwd") == "passwd"
    assert safe_file_name("C:\\logs\\x.log") == "x.log"
    assert safe_file_name("..") == "upload"
    assert safe_file_name("a\x00b") == "a_b"
    assert safe_file_name(None, "log") == "log"


def test_ranges() -> None:
    assert parse_ranges(None, 100) is None
    only = parse_ranges("bytes=0-9", 100)
    assert only is not None
    assert [(r.start, r.end) for r in only] == [(0, 10)]
    many = parse_ranges("bytes=90-, -5, 10-19", 100)
    assert many is not None
    assert [(r.start, r.end) for r in many] == [(90, 100), (95, 100), (10, 20)]
    clipped = parse_ranges("bytes=50-500", 100)
    assert clipped is not None
    assert [(r.start, r.end) for r in clipped] == [(50, 100)]
    for ignored in ("items=0-1", "bytes=5-1", "bytes=a-b", "bytes=" + ",".join(["0-1"] * 17)):
        assert parse_ranges(ignored, 100) is None
    with pytest.raises(RangeNotSatisfiable):
        parse_ranges("bytes=100-", 100)


# -- over real servers -------------------------------------------------------------------------


async def _chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        await anyio.sleep(0)
        yield data[start : start + size]


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@pytest.fixture(params=SERVERS)
def server_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.anyio
async def test_uploads_end_to_end(server_kind: str, tmp_path: Path) -> None:
    cs = make_central_system()
    views: list[UploadView] = []
    app = LateApp()
    async with running(server_kind, app) as server:
        transfers = FileTransfers(
            cs,
            signer=GrantSigner(KEY),
            base_url=server.url + "/",
            storage=FilesystemUploadStorage(tmp_path / "uploads"),
            max_upload_bytes=5000,
        )
        app.app = transfers.app()
        transfers.subscribe(views.append)
        async with connected(cs) as cp:
            await cp.call(BOOT)
            cp.answer("GetDiagnostics", GetDiagnosticsResponse(file_name="diag.tar.gz"))
            await transfers.get_diagnostics("CP1")
            location = cp.received_of(GetDiagnosticsRequest)[0].location
            assert location.startswith(server.url + "/upload/")
            assert location.endswith("/")

            # Raw PUT to the directory URL plus the file name, as FTP-minded firmwares do.
            content = b"diagnostics\x00" * 100
            reply = await request(location + "diag.tar.gz", "PUT", body=content)
            assert (reply.status, reply.body) == (200, b"stored diag.tar.gz (1200 bytes)\n")
            await cp.call(DiagnosticsStatusNotificationRequest(status=DiagnosticsStatus.UPLOADED))
            await wait_until(lambda: views and views[-1].complete)
            (stored,) = views[-1].uploads
            assert Path(stored.location).read_bytes() == content
            assert stored.sha256 == hashlib.sha256(content).hexdigest()
            assert (stored.charge_point_id, stored.kind) == ("CP1", TransferKind.DIAGNOSTICS)

            # A log, POSTed as multipart/form-data in chunks to the URL itself.
            await transfers.get_log("CP1", log_type=LogType.SECURITY_LOG, request_id=7)
            log_location = cp.received_of(GetLogRequest)[0].log.remote_location
            boundary = b"----cp-boundary"
            log_content = b"security log line\n" * 50
            reply = await request(
                log_location,
                "POST",
                headers={"Content-Type": f"multipart/form-data; boundary={boundary.decode()}"},
                body=_chunks(_form(log_content, boundary, b"security.log"), 97),
            )
            assert reply.status == 200, reply.body
            await cp.call(
                LogStatusNotificationRequest(status=UploadLogStatus.UPLOADED, request_id=7)
            )
            await wait_until(lambda: views[-1].kind is TransferKind.LOG and views[-1].complete)
            view = await transfers.upload("CP1", TransferKind.LOG, 7)
            assert [u.file_name for u in view.uploads] == ["security.log"]
            assert Path(view.uploads[0].location).read_bytes() == log_content
            assert view.request is not None
            assert view.request.log_type is LogType.SECURITY_LOG
            # The diagnostics request now names the file that came (the answer named it too).
            diagnostics = await transfers.upload("CP1", TransferKind.DIAGNOSTICS)
            assert diagnostics.request is not None
            assert diagnostics.request.file_name == "diag.tar.gz"

            # Too large: refused from the Content-Length, or while streaming; nothing kept.
            big = b"x" * 6000
            assert (await request(location + "big", "PUT", body=big)).status == 413
            assert (await request(location + "big", "PUT", body=_chunks(big))).status == 413
            # Cut off mid-body: nothing kept either.
            await request(location + "cut", "PUT", body=b"y" * 3000, cut_after=1000)
            await request(location + "cut2", "PUT", body=_chunks(b"y" * 3000), cut_after=1500)
            await anyio.sleep(0.2)
            assert not list((tmp_path / "uploads" / ".incoming").iterdir())
            view = await transfers.upload("CP1", TransferKind.DIAGNOSTICS)
            assert [u.file_name for u in view.uploads] == ["diag.tar.gz"]

            # Refusals.
            token = location.split("/")[-2]
            forged = location.replace(token, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
            assert (await request(forged + "x", "PUT", body=b"1")).status == 403
            assert (await request(location, "GET")).status == 405
            assert (await request(server.url + "/elsewhere", "PUT", body=b"1")).status == 404
            firmware_url = transfers.firmware_location("CP1", "fw.bin")
            assert (
                await request(firmware_url.replace("/firmware/", "/upload/"), "PUT", body=b"1")
            ).status == 403
            bad_form = {"Content-Type": "multipart/form-data; boundary=zz"}
            reply = await request(location, "POST", headers=bad_form, body=b"--zz\r\nno end")
            assert reply.status == 400
            cs.clock.advance(24 * 3600)  # type: ignore[attr-defined]
            reply = await request(location + "late", "PUT", body=b"1")
            assert reply.status == 403
            assert b"expired" in reply.body


@pytest.mark.anyio
async def test_firmware_is_served_with_ranges(server_kind: str, tmp_path: Path) -> None:
    directory = tmp_path / "firmware"
    directory.mkdir()
    (directory / "volt-2.1.bin").write_bytes(FIRMWARE)
    (directory / ".hidden").write_bytes(b"secret")
    cs = make_central_system()
    app = LateApp()
    async with running(server_kind, app) as server:
        transfers = FileTransfers(
            cs, signer=GrantSigner(KEY), base_url=server.url, firmware=FirmwareDirectory(directory)
        )
        app.app = transfers.app()
        async with connected(cs) as cp:
            await cp.call(BOOT)
            await transfers.update_firmware("CP1", "volt-2.1.bin", retries=2)
            (sent,) = cp.received_of(UpdateFirmwareRequest)
            assert sent.retries == 2
            assert sent.retrieve_date == cs.clock()
            url = sent.location
            assert url.endswith("/volt-2.1.bin")
            with pytest.raises(InvalidRequest, match="no firmware file"):
                await transfers.update_firmware("CP1", "missing.bin")
        assert await transfers.firmware_content(url) == FIRMWARE
        assert await transfers.firmware_content(server.url + "/firmware/x/y") is None

        whole = await request(url)
        assert (whole.status, whole.body) == (200, FIRMWARE)
        etag = whole.headers["etag"]
        assert whole.headers["accept-ranges"] == "bytes"
        head = await request(url, "HEAD")
        assert (head.status, head.body) == (200, b"")
        assert head.headers["content-length"] == str(len(FIRMWARE))

        part = await request(url, headers={"Range": "bytes=100-199"})
        assert (part.status, part.body) == (206, FIRMWARE[100:200])
        assert part.headers["content-range"] == f"bytes 100-199/{len(FIRMWARE)}"
        tail = await request(url, headers={"Range": "bytes=-3"})
        assert (tail.status, tail.body) == (206, b"end")

        many = await request(url, headers={"Range": "bytes=0-1, 10-12"})
        assert many.status == 206
        kind, _, boundary = many.headers["content-type"].partition("; boundary=")
        assert kind == "multipart/byteranges"
        pieces = many.body.split(b"--" + boundary.encode())
        assert pieces[-1] == b"--\r\n"
        assert b"Content-Range: bytes 0-1/" in pieces[1]
        assert pieces[1].endswith(FIRMWARE[0:2] + b"\r\n")
        assert pieces[2].endswith(FIRMWARE[10:13] + b"\r\n")
        assert int(many.headers["content-length"]) == len(many.body)

        unsatisfiable = await request(url, headers={"Range": f"bytes={len(FIRMWARE)}-"})
        assert unsatisfiable.status == 416
        assert unsatisfiable.headers["content-range"] == f"bytes */{len(FIRMWARE)}"
        changed = await request(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
        assert (changed.status, changed.body) == (200, FIRMWARE)
        same = await request(url, headers={"Range": "bytes=0-9", "If-Range": etag})
        assert (same.status, same.body) == (206, FIRMWARE[:10])

        # The grant names the file: another name, a hidden file, a wrong method are refused.
        assert (await request(url.replace("volt-2.1.bin", ".hidden"))).status == 403
        hidden = transfers.firmware_location("CP1", ".hidden")
        assert (await request(hidden)).status == 404
        assert (await request(url, "PUT", body=b"x")).status == 405
        assert (await request(transfers.firmware_location("CP1", "gone.bin"))).status == 404
        cs.clock.advance(24 * 3600)  # type: ignore[attr-defined]
        assert (await request(url)).status == 403


@pytest.mark.anyio
async def test_the_app_refuses_what_it_cannot_serve(tmp_path: Path) -> None:
    signer = GrantSigner(KEY)
    app = FileTransferApp(signer)  # neither storage nor firmware
    async with running("uvicorn", app) as server:
        grant = signer.grant(TransferKind.DIAGNOSTICS, "CP1", now=T0, valid_for=1e9)
        url = f"{server.url}/upload/{signer.token(grant)}/"
        assert (await request(url, "PUT", body=b"1")).status == 404
        grant = signer.grant(TransferKind.FIRMWARE, "CP1", now=T0, valid_for=1e9, file_name="f")
        assert (await request(f"{server.url}/firmware/{signer.token(grant)}/f")).status == 404
    with pytest.raises(ValueError, match="max_upload_bytes"):
        FileTransferApp(signer, max_upload_bytes=0)
    with pytest.raises(TypeError, match="GrantSigner"):
        FileTransferApp(KEY)  # type: ignore[arg-type]
    cs = make_central_system()
    with pytest.raises(ValueError, match="base_url"):
        FileTransfers(cs, signer=signer, base_url="ftp://files.example.com")
    transfers = FileTransfers(cs, signer=signer, base_url="https://files.example.com/t")
    with pytest.raises(ValueError, match="uploads are"):
        transfers.upload_location("CP1", TransferKind.FIRMWARE)
    with pytest.raises(ValueError, match="downloads are"):
        transfers.firmware_location("CP1", "f", kind=TransferKind.LOG)
    assert len(transfers.firmware_location("CP1" * 16, "f" * 100)) < 512  # Firmware.location
    storage = FilesystemUploadStorage(tmp_path)
    assert await storage.uploads("CP1") == []
    assert await read_firmware(FirmwareDirectory(tmp_path), "none") is None
