"""OCSP for Plug & Charge, against a loopback responder over real HTTP (asyncio and trio)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import anyio
import pytest
from cryptography import x509

from ocpp16csms.enums import HashAlgorithm
from ocpp16csms.profiles.plug_and_charge import (
    CertificateHashData,
    GetCertificateStatus,
    GetCertificateStatusResponse,
    OCSPRequestData,
    PncCodec,
)
from ocpp16csms.profiles.plug_and_charge.demo_pki import DemoPki
from ocpp16csms.profiles.plug_and_charge.ocsp import (
    CertStatus,
    OcspClient,
    OcspError,
    OcspProblem,
    build_ocsp_request,
    http_post_ocsp,
    ocsp_request_from_data,
    parse_ocsp_response,
)
from ocpp16csms.profiles.plug_and_charge.pki import certificate_hash_data, ocsp_request_data
from ocpp16csms.testing.ocsp_responder import OcspResponder, serve_ocsp

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def pki() -> DemoPki:
    return DemoPki.generate(now=NOW)


@pytest.fixture(scope="module")
def other() -> DemoPki:
    return DemoPki.generate(now=NOW)


def _contract_data(pki: DemoPki, url: str) -> OCSPRequestData:
    return ocsp_request_data(
        pki.contract.certificate, pki.mo_sub_ca2.certificate, responder_url=url
    )


@pytest.mark.anyio
async def test_good_then_revoked_over_http(pki: DemoPki) -> None:
    clock = Clock()
    responder = OcspResponder.for_pki(pki, clock=clock)
    async with serve_ocsp(responder) as url:
        client = OcspClient(
            http_post_ocsp, clock=clock, trusted_issuers=[pki.mo_sub_ca2.certificate]
        )
        good = await client.status(_contract_data(pki, url))
        assert good.status is CertStatus.GOOD
        assert good.this_update == NOW
        assert good.next_update == NOW + timedelta(hours=1)
        assert good.revocation_time is None

        responder.revoke(
            pki.contract.certificate,
            at=NOW - timedelta(days=1),
            reason=x509.ReasonFlags.key_compromise,
        )
        client.forget(_contract_data(pki, url))
        revoked = await client.status(_contract_data(pki, url))
        assert revoked.status is CertStatus.REVOKED
        assert revoked.revocation_time == NOW - timedelta(days=1)
        assert revoked.revocation_reason == "keyCompromise"
        assert responder.requests == 2

    # What GetCertificateStatus forwards: base64 DER, within 5500 characters, readable again.
    assert len(good.ocsp_result) <= 5500
    assert parse_ocsp_response(good.ocsp_result) == good
    response = GetCertificateStatusResponse(
        status=GetCertificateStatus.ACCEPTED, ocsp_result=good.ocsp_result
    )
    PncCodec().encode_result(response)


@pytest.mark.anyio
async def test_the_cache_honours_next_update(pki: DemoPki) -> None:
    clock = Clock()
    responder = OcspResponder.for_pki(pki, clock=clock, validity=timedelta(minutes=30))
    async with serve_ocsp(responder) as url:
        client = OcspClient(http_post_ocsp, clock=clock)
        data = _contract_data(pki, url)
        first = await client.status(data)
        responder.revoke(pki.contract.certificate, at=NOW)
        clock.now = NOW + timedelta(minutes=29, seconds=59)
        assert await client.status(data) is first  # still cached: the revocation is not seen
        assert responder.requests == 1
        # The same certificate named with other hex case and zero padding is the same entry.
        shouting = OCSPRequestData(
            hash_algorithm=data.hash_algorithm,
            issuer_name_hash=data.issuer_name_hash.upper(),
            issuer_key_hash=data.issuer_key_hash.upper(),
            serial_number=data.serial_number.upper(),
            responder_url=url,
        )
        assert client.cached(shouting) is first
        clock.now = NOW + timedelta(minutes=30)
        assert client.cached(data) is None
        responder.clock = clock
        refreshed = await client.status(data)
        assert refreshed.status is CertStatus.REVOKED
        assert responder.requests == 2


@pytest.mark.anyio
async def test_without_next_update_the_default_ttl_applies(pki: DemoPki) -> None:
    clock = Clock()
    responder = OcspResponder.for_pki(pki, clock=clock, validity=None)
    async with serve_ocsp(responder) as url:
        client = OcspClient(http_post_ocsp, clock=clock, default_ttl=timedelta(minutes=10))
        data = _contract_data(pki, url)
        result = await client.status(data)
        assert result.next_update is None
        clock.now = NOW + timedelta(minutes=9)
        await client.status(data)
        assert responder.requests == 1
        clock.now = NOW + timedelta(minutes=10)
        await client.status(data)
        assert responder.requests == 2


@pytest.mark.anyio
async def test_unknown_serials_and_foreign_issuers(pki: DemoPki, other: DemoPki) -> None:
    responder = OcspResponder.for_pki(pki, clock=Clock())
    async with serve_ocsp(responder) as url:
        client = OcspClient(http_post_ocsp, clock=Clock())
        known_issuer = _contract_data(pki, url)
        never_issued = OCSPRequestData(
            hash_algorithm=known_issuer.hash_algorithm,
            issuer_name_hash=known_issuer.issuer_name_hash,
            issuer_key_hash=known_issuer.issuer_key_hash,
            serial_number="abcdef",
            responder_url=url,
        )
        assert (await client.status(never_issued)).status is CertStatus.UNKNOWN
        with pytest.raises(OcspError) as caught:
            await client.status(_contract_data(other, url))
        assert caught.value.problem is OcspProblem.UNSUCCESSFUL
        assert "UNAUTHORIZED" in str(caught.value)
        assert client.cached(_contract_data(other, url)) is None


@pytest.mark.anyio
async def test_each_algorithm_and_each_sub_ca(pki: DemoPki) -> None:
    responder = OcspResponder.for_pki(pki, clock=Clock())
    async with serve_ocsp(responder) as url:
        client = OcspClient(http_post_ocsp, clock=Clock())
        for algorithm in HashAlgorithm:
            for leaf, issuer in [
                (pki.secc, pki.cpo_sub_ca2),
                (pki.cpo_sub_ca2, pki.cpo_sub_ca1),
                (pki.mo_sub_ca1, pki.mo_root),
            ]:
                data = ocsp_request_data(
                    leaf.certificate, issuer.certificate, responder_url=url, algorithm=algorithm
                )
                assert (await client.status(data)).status is CertStatus.GOOD
        assert responder.requests == 9


@pytest.mark.anyio
async def test_stale_and_future_answers_are_refused(pki: DemoPki) -> None:
    for responder_time, words in [
        (NOW - timedelta(hours=2), "has passed"),
        (NOW + timedelta(hours=1), "future"),
    ]:
        responder = OcspResponder.for_pki(pki, clock=Clock(responder_time))
        async with serve_ocsp(responder) as url:
            client = OcspClient(http_post_ocsp, clock=Clock())
            with pytest.raises(OcspError, match=words) as caught:
                await client.status(_contract_data(pki, url))
            assert caught.value.problem is OcspProblem.STALE
            assert client.cached(_contract_data(pki, url)) is None


@pytest.mark.anyio
async def test_the_signature_must_come_from_a_trusted_issuer(pki: DemoPki, other: DemoPki) -> None:
    responder = OcspResponder.for_pki(pki, clock=Clock())
    async with serve_ocsp(responder) as url:
        client = OcspClient(
            http_post_ocsp, clock=Clock(), trusted_issuers=[other.mo_sub_ca2.certificate]
        )
        with pytest.raises(OcspError) as caught:
            await client.status(_contract_data(pki, url))
        assert caught.value.problem is OcspProblem.BAD_SIGNATURE


@pytest.mark.anyio
async def test_trusted_issuers_given_per_request_replace_the_clients(
    pki: DemoPki, other: DemoPki
) -> None:
    responder = OcspResponder.for_pki(pki, clock=Clock())
    async with serve_ocsp(responder) as url:
        client = OcspClient(http_post_ocsp, clock=Clock())  # checks no signature by itself
        data = _contract_data(pki, url)
        with pytest.raises(OcspError) as caught:
            await client.status(data, trusted_issuers=[other.mo_sub_ca2.certificate])
        assert caught.value.problem is OcspProblem.BAD_SIGNATURE
        good = await client.status(data, trusted_issuers=[pki.mo_sub_ca2.certificate])
        assert good.status is CertStatus.GOOD


@pytest.mark.anyio
async def test_a_response_about_another_certificate_is_refused(pki: DemoPki) -> None:
    responder = OcspResponder.for_pki(pki, clock=Clock())

    async def wrong_answer(url: str, der: bytes) -> bytes:
        return responder.respond(
            build_ocsp_request(pki.secc.certificate, pki.cpo_sub_ca2.certificate)
        )

    client = OcspClient(wrong_answer, clock=Clock())
    with pytest.raises(OcspError) as caught:
        await client.status(_contract_data(pki, "http://unused/"))
    assert caught.value.problem is OcspProblem.MISMATCH


@pytest.mark.anyio
async def test_fetch_failures_become_ocsp_errors(pki: DemoPki) -> None:
    async def broken(url: str, der: bytes) -> bytes:
        raise ConnectionResetError("peer reset")

    async def stalled(url: str, der: bytes) -> bytes:
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover

    async def garbage(url: str, der: bytes) -> bytes:
        return b"<html>not ocsp</html>"

    for fetch, words, problem in [
        (broken, "peer reset", OcspProblem.FETCH_FAILED),
        (stalled, "timed out", OcspProblem.FETCH_FAILED),
        (garbage, "not an OCSP response", OcspProblem.MALFORMED),
    ]:
        client = OcspClient(fetch, clock=Clock(), timeout=0.05)
        with pytest.raises(OcspError, match=words) as caught:
            await client.status(_contract_data(pki, "http://unused/"))
        assert caught.value.problem is problem


@pytest.mark.anyio
async def test_http_errors_from_the_responder(pki: DemoPki) -> None:
    responder = OcspResponder.for_pki(pki, clock=Clock())
    async with serve_ocsp(responder) as url:
        # Refused: the port of a listener that is closed again.
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        await listener.aclose()
        client = OcspClient(http_post_ocsp, clock=Clock())
        with pytest.raises(OcspError) as caught:
            await client.status(_contract_data(pki, f"http://127.0.0.1:{port}/"))
        assert caught.value.problem is OcspProblem.FETCH_FAILED
        # A request that is no OCSP request earns the responder's malformedRequest.
        with pytest.raises(OcspError, match="MALFORMED_REQUEST") as caught:
            parse_ocsp_response(await http_post_ocsp(url, b"\x30\x00"))
        assert caught.value.problem is OcspProblem.UNSUCCESSFUL
        # A GET is not served.
        async with await anyio.connect_tcp(
            "127.0.0.1", int(url.rsplit(":", 1)[1].strip("/"))
        ) as stream:
            await stream.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = await stream.receive()
        assert answer.startswith(b"HTTP/1.1 405")
        assert responder.requests == 1
    with pytest.raises(ValueError, match="http://"):
        await http_post_ocsp("https://127.0.0.1/", b"")


@pytest.mark.anyio
async def test_the_http_client_reads_chunked_bodies() -> None:
    body = b"\x30\x03\x0a\x01\x01"  # an OCSP response with status malformedRequest

    async def chunked(stream: anyio.abc.ByteStream) -> None:
        async with stream:
            await stream.receive()
            await stream.send(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b"2\r\n"
                + body[:2]
                + b"\r\n3;x=y\r\n"
                + body[2:]
                + b"\r\n0\r\n\r\n"
            )

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, chunked)
        assert await http_post_ocsp(f"http://127.0.0.1:{port}/ocsp", b"x") == body
        group.cancel_scope.cancel()


def test_ocsp_requests_from_ocpp_data_match_those_from_certificates(pki: DemoPki) -> None:
    for algorithm in HashAlgorithm:
        data = ocsp_request_data(
            pki.contract.certificate,
            pki.mo_sub_ca2.certificate,
            responder_url="http://x/",
            algorithm=algorithm,
        )
        assert ocsp_request_from_data(data) == build_ocsp_request(
            pki.contract.certificate, pki.mo_sub_ca2.certificate, algorithm
        )
        # CertificateHashData (as in DeleteCertificate) works too.
        hashed = certificate_hash_data(
            pki.contract.certificate, pki.mo_sub_ca2.certificate, algorithm
        )
        assert ocsp_request_from_data(hashed) == ocsp_request_from_data(data)


@pytest.mark.parametrize(
    "change",
    [
        {"issuer_name_hash": "zz"},
        {"issuer_key_hash": "abcd"},  # too short for SHA-256
        {"serial_number": "xyz"},
        {"serial_number": "1_a"},
        {"serial_number": "\u0663"},  # an Arabic-Indic digit, which int() would take
    ],
)
def test_bad_request_data_is_a_typed_error(pki: DemoPki, change: dict[str, str]) -> None:
    base = certificate_hash_data(pki.contract.certificate, pki.mo_sub_ca2.certificate)
    fields = {
        "hash_algorithm": base.hash_algorithm,
        "issuer_name_hash": base.issuer_name_hash,
        "issuer_key_hash": base.issuer_key_hash,
        "serial_number": base.serial_number,
        **change,
    }
    with pytest.raises(OcspError) as caught:
        ocsp_request_from_data(CertificateHashData(**fields))  # type: ignore[arg-type]
    assert caught.value.problem is OcspProblem.BAD_REQUEST_DATA


def test_unreadable_responses_are_malformed() -> None:
    for data in ("not base64!", base64.b64encode(b"nope").decode(), b""):
        with pytest.raises(OcspError) as caught:
            parse_ocsp_response(data)
        assert caught.value.problem is OcspProblem.MALFORMED


@pytest.mark.anyio
async def test_the_cache_keeps_at_most_max_entries(pki: DemoPki) -> None:
    clock = Clock()
    responder = OcspResponder.for_pki(pki, clock=clock)

    async def direct(url: str, der: bytes) -> bytes:
        responder.requests += 1
        return responder.respond(der)

    client = OcspClient(direct, clock=clock, max_entries=2)
    pairs = [
        (pki.contract, pki.mo_sub_ca2),
        (pki.secc, pki.cpo_sub_ca2),
        (pki.mo_sub_ca2, pki.mo_sub_ca1),
    ]
    datas = [
        ocsp_request_data(c.certificate, i.certificate, responder_url="http://x/") for c, i in pairs
    ]
    for data in datas:
        await client.status(data)
    assert client.cached(datas[0]) is None
    assert client.cached(datas[1]) is not None
    assert client.cached(datas[2]) is not None
    assert responder.requests == 3


def _delegated_response(pki: DemoPki, *, ocsp_signing: bool) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509 import ocsp
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DEMO OCSP signer")]))
        .issuer_name(pki.mo_sub_ca2.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
    )
    if ocsp_signing:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False
        )
    delegate = builder.sign(pki.mo_sub_ca2.private_key, hashes.SHA256())
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=pki.contract.certificate,
            issuer=pki.mo_sub_ca2.certificate,
            algorithm=hashes.SHA256(),
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=NOW,
            next_update=NOW + timedelta(hours=1),
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, delegate)
        .certificates([delegate])
        .sign(key, hashes.SHA256())
    )
    return response.public_bytes(Encoding.DER)


def test_a_delegated_ocsp_signer_issued_by_the_ca_is_trusted(pki: DemoPki) -> None:
    expected = certificate_hash_data(pki.contract.certificate, pki.mo_sub_ca2.certificate)
    trusted = [pki.mo_sub_ca2.certificate]
    result = parse_ocsp_response(
        _delegated_response(pki, ocsp_signing=True), expected=expected, trusted_issuers=trusted
    )
    assert result.status is CertStatus.GOOD
    with pytest.raises(OcspError) as caught:
        parse_ocsp_response(
            _delegated_response(pki, ocsp_signing=False), expected=expected, trusted_issuers=trusted
        )
    assert caught.value.problem is OcspProblem.BAD_SIGNATURE
    sha384 = certificate_hash_data(
        pki.contract.certificate, pki.mo_sub_ca2.certificate, HashAlgorithm.SHA384
    )
    with pytest.raises(OcspError) as caught:
        parse_ocsp_response(_delegated_response(pki, ocsp_signing=True), expected=sha384)
    assert caught.value.problem is OcspProblem.MISMATCH
