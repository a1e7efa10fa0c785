"""OCSP for Plug & Charge: requests from OCPP data, typed responses, and a cache (RFC 6960).

GetCertificateStatus (2.0.1 M06) asks the central system for the OCSP response of a
certificate the charge point cannot check itself; Authorize (C07) can carry the same data for
the contract chain. :func:`ocsp_request_from_data` turns the OCPP ``OCSPRequestData`` into a DER
OCSP request, :func:`parse_ocsp_response` reads the answer, and :class:`OcspClient` fetches
through an injected ``fetch(url, der_request) -> der_response`` and caches each answer until its
``nextUpdate``. :func:`http_post_ocsp` is a minimal plain-HTTP fetch. Needs the ``pnc`` extra.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

import anyio
import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from ...enums import HashAlgorithm
from .datatypes import CertificateHashData, OCSPRequestData
from .errors import PncError
from .pki import hash_function, ocsp_request_data, same_certificate

__all__ = [
    "CertStatus",
    "Fetch",
    "OcspClient",
    "OcspError",
    "OcspProblem",
    "OcspResult",
    "build_ocsp_request",
    "http_post_ocsp",
    "ocsp_request_from_data",
    "parse_ocsp_response",
]

_DER = Encoding.DER
_HEX = re.compile(r"[0-9A-Fa-f]+")

Fetch = Callable[[str, bytes], Awaitable[bytes]]
"""``await fetch(responder_url, der_request)`` returns the DER OCSP response (RFC 6960 A.1)."""

_HASH_OIDS = {
    HashAlgorithm.SHA256: hashes.SHA256.name,
    HashAlgorithm.SHA384: hashes.SHA384.name,
    HashAlgorithm.SHA512: hashes.SHA512.name,
}


class CertStatus(StrEnum):
    """What an OCSP responder says of a certificate."""

    GOOD = "Good"
    REVOKED = "Revoked"
    UNKNOWN = "Unknown"


class OcspProblem(StrEnum):
    """Why no usable OCSP answer was had."""

    BAD_REQUEST_DATA = "BadRequestData"
    """The OCSPRequestData does not make an OCSP request (hex, lengths)."""
    FETCH_FAILED = "FetchFailed"
    MALFORMED = "Malformed"
    UNSUCCESSFUL = "Unsuccessful"
    """The responder answered with an error status (malformedRequest, tryLater, …)."""
    MISMATCH = "Mismatch"
    """The response is about another certificate."""
    BAD_SIGNATURE = "BadSignature"
    STALE = "Stale"
    """The response's nextUpdate has passed, or its thisUpdate is in the future."""


class OcspError(PncError):
    """No usable OCSP answer; answer GetCertificateStatus with status ``Failed``."""

    def __init__(self, problem: OcspProblem, description: str) -> None:
        super().__init__(description)
        self.problem = problem


@attrs.frozen(kw_only=True)
class OcspResult:
    """A parsed OCSP answer for one certificate, with the DER it came from."""

    status: CertStatus
    this_update: datetime
    next_update: datetime | None
    produced_at: datetime
    revocation_time: datetime | None = None
    revocation_reason: str | None = None
    """The CRL reason (``"keyCompromise"``, …), when the responder gave one."""
    der: bytes = attrs.field(repr=False)

    @property
    def ocsp_result(self) -> str:
        """The response as GetCertificateStatusResponse ``ocspResult`` carries it: DER, base64.

        Longer than 5500 characters means it cannot be forwarded; answer ``Failed`` then.
        """
        return base64.b64encode(self.der).decode("ascii")


# --- requests ------------------------------------------------------------------------------


def build_ocsp_request(
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    algorithm: HashAlgorithm = HashAlgorithm.SHA256,
) -> bytes:
    """The DER OCSP request for ``certificate``."""
    return (
        ocsp.OCSPRequestBuilder()
        .add_certificate(certificate, issuer, hash_function(algorithm))
        .build()
        .public_bytes(_DER)
    )


def ocsp_request_from_data(data: OCSPRequestData | CertificateHashData) -> bytes:
    """The DER OCSP request that OCPP ``OCSPRequestData`` describes (hashes and serial in hex).

    Raises :class:`OcspError` (``BAD_REQUEST_DATA``) for hex that is not, or hashes whose
    length does not fit the algorithm.
    """
    try:
        if not _HEX.fullmatch(data.serial_number):
            # int(…, 16) would also take spaces, underscores and non-ASCII digits.
            raise ValueError(f"serial number {data.serial_number[:40]!r} is not hex")
        name_hash = bytes.fromhex(data.issuer_name_hash)
        key_hash = bytes.fromhex(data.issuer_key_hash)
        serial = int(data.serial_number, 16)
        algorithm = hash_function(data.hash_algorithm)
        built = (
            ocsp.OCSPRequestBuilder()
            .add_certificate_by_hash(name_hash, key_hash, serial, algorithm)
            .build()
        )
    except ValueError as error:
        raise OcspError(
            OcspProblem.BAD_REQUEST_DATA, f"no OCSP request from this data: {error}"
        ) from None
    return built.public_bytes(_DER)


# --- responses -----------------------------------------------------------------------------


def _verifies(key: object, signature: bytes, data: bytes, algorithm: object) -> bool:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(
            algorithm, hashes.HashAlgorithm
        ):
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, rsa.RSAPublicKey) and isinstance(algorithm, hashes.HashAlgorithm):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _may_sign_ocsp(certificate: x509.Certificate) -> bool:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.OCSP_SIGNING in usage


def _check_signature(response: ocsp.OCSPResponse, issuers: list[x509.Certificate]) -> None:
    # The issuing CA signs, or a responder certificate it issued for OCSP signing (RFC 6960
    # §4.2.2.2). Trying each candidate's key is simpler than matching the ResponderID first.
    signers = list(issuers)
    signers += [
        c
        for c in response.certificates
        if _may_sign_ocsp(c) and any(_signed_by(c, issuer) for issuer in issuers)
    ]
    for signer in signers:
        if _verifies(
            signer.public_key(),
            response.signature,
            response.tbs_response_bytes,
            response.signature_hash_algorithm,
        ):
            return
    raise OcspError(OcspProblem.BAD_SIGNATURE, "no trusted issuer signed this OCSP response")


def _about(
    single: ocsp.OCSPSingleResponse, expected: OCSPRequestData | CertificateHashData
) -> bool:
    name = _HASH_OIDS.get(HashAlgorithm(expected.hash_algorithm))
    if single.hash_algorithm.name != name:
        return False
    return same_certificate(
        expected,
        CertificateHashData(
            hash_algorithm=expected.hash_algorithm,
            issuer_name_hash=single.issuer_name_hash.hex(),
            issuer_key_hash=single.issuer_key_hash.hex(),
            serial_number=format(single.serial_number, "x"),
        ),
    )


def parse_ocsp_response(
    data: bytes | str,
    *,
    expected: OCSPRequestData | CertificateHashData | None = None,
    trusted_issuers: Iterable[x509.Certificate] = (),
) -> OcspResult:
    """Read a DER (or base64 DER) OCSP response; raise :class:`OcspError` if it is no use.

    With ``expected`` the answer about that certificate is taken (and one must be there);
    otherwise the first. With ``trusted_issuers`` the signature must verify with one of them
    or with a delegated OCSP signing certificate one of them issued.
    """
    if isinstance(data, str):
        try:
            data = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise OcspError(OcspProblem.MALFORMED, "the OCSP response is not base64") from None
    try:
        response = ocsp.load_der_ocsp_response(data)
    except ValueError:
        raise OcspError(OcspProblem.MALFORMED, "the bytes are not an OCSP response") from None
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise OcspError(
            OcspProblem.UNSUCCESSFUL,
            f"the OCSP responder answered {response.response_status.name}",
        )
    try:
        singles = list(response.responses)
    except ValueError:
        raise OcspError(OcspProblem.MALFORMED, "unreadable single responses") from None
    chosen = singles[0] if singles and expected is None else None
    if expected is not None:
        chosen = next((s for s in singles if _about(s, expected)), None)
    if chosen is None:
        raise OcspError(OcspProblem.MISMATCH, "the OCSP response is not about this certificate")
    issuers = list(trusted_issuers)
    if issuers:
        _check_signature(response, issuers)
    status = {
        ocsp.OCSPCertStatus.GOOD: CertStatus.GOOD,
        ocsp.OCSPCertStatus.REVOKED: CertStatus.REVOKED,
        ocsp.OCSPCertStatus.UNKNOWN: CertStatus.UNKNOWN,
    }[chosen.certificate_status]
    reason = chosen.revocation_reason
    return OcspResult(
        status=status,
        this_update=chosen.this_update_utc,
        next_update=chosen.next_update_utc,
        produced_at=response.produced_at_utc,
        revocation_time=chosen.revocation_time_utc,
        revocation_reason=reason.value if reason is not None else None,
        der=bytes(data),
    )


# --- the client and its cache ---------------------------------------------------------------


_Key = tuple[str, str, str, str]


def _key(data: OCSPRequestData | CertificateHashData) -> _Key:
    return (
        str(data.hash_algorithm),
        data.issuer_name_hash.strip().lower(),
        data.issuer_key_hash.strip().lower(),
        data.serial_number.strip().lower().lstrip("0") or "0",
    )


@attrs.frozen
class _Entry:
    result: OcspResult
    expires: datetime


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OcspClient:
    """Fetches OCSP answers through ``fetch`` and keeps each until its ``nextUpdate``.

    An answer without ``nextUpdate`` is kept for ``default_ttl``. ``clock`` returns an aware
    datetime (injected so tests need not wait). The cache is keyed by the certificate's hash
    data (not the responder URL) and holds at most ``max_entries`` answers. Any failure is an
    :class:`OcspError`; nothing failed is cached. Two concurrent requests for the same
    certificate may both fetch.
    """

    def __init__(
        self,
        fetch: Fetch,
        *,
        clock: Callable[[], datetime] = _utc_now,
        default_ttl: timedelta = timedelta(hours=1),
        timeout: float = 10.0,
        max_entries: int = 1024,
        trusted_issuers: Iterable[x509.Certificate] = (),
        clock_skew: timedelta = timedelta(minutes=5),
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self.default_ttl = default_ttl
        self.timeout = timeout
        self.max_entries = max_entries
        self.trusted_issuers = list(trusted_issuers)
        self.clock_skew = clock_skew
        self._cache: dict[_Key, _Entry] = {}

    def cached(self, data: OCSPRequestData | CertificateHashData) -> OcspResult | None:
        """The cached answer for a certificate, if one is still valid; never fetches."""
        entry = self._cache.get(_key(data))
        if entry is None or self._clock() >= entry.expires:
            return None
        return entry.result

    def forget(self, data: OCSPRequestData | CertificateHashData) -> None:
        """Drop the cached answer for a certificate."""
        self._cache.pop(_key(data), None)

    async def status(
        self,
        data: OCSPRequestData,
        *,
        trusted_issuers: Iterable[x509.Certificate] | None = None,
    ) -> OcspResult:
        """The OCSP answer for the certificate ``data`` describes, from cache or its responder.

        ``trusted_issuers`` replaces the client's own for this request (the issuer of a chain
        being verified, say); a cached answer was checked when it was fetched.
        """
        hit = self.cached(data)
        if hit is not None:
            return hit
        request = ocsp_request_from_data(data)
        try:
            with anyio.fail_after(self.timeout):
                raw = await self._fetch(data.responder_url, request)
        except TimeoutError:
            raise OcspError(OcspProblem.FETCH_FAILED, f"{data.responder_url} timed out") from None
        except Exception as error:  # the fetch is the host's code: any failure is a failed fetch
            raise OcspError(
                OcspProblem.FETCH_FAILED, f"{data.responder_url}: {type(error).__name__}: {error}"
            ) from error
        issuers = self.trusted_issuers if trusted_issuers is None else list(trusted_issuers)
        result = parse_ocsp_response(raw, expected=data, trusted_issuers=issuers)
        now = self._clock()
        if result.this_update > now + self.clock_skew:
            raise OcspError(OcspProblem.STALE, f"thisUpdate {result.this_update} is in the future")
        if result.next_update is not None and result.next_update <= now:
            raise OcspError(OcspProblem.STALE, f"nextUpdate {result.next_update} has passed")
        expires = result.next_update if result.next_update is not None else now + self.default_ttl
        self._store(_key(data), _Entry(result, expires), now)
        return result

    async def status_of(
        self,
        certificate: x509.Certificate,
        issuer: x509.Certificate,
        *,
        responder_url: str | None = None,
    ) -> OcspResult:
        """The OCSP answer for ``certificate``; the responder defaults to its AIA entry."""
        return await self.status(
            ocsp_request_data(certificate, issuer, responder_url=responder_url)
        )

    def _store(self, key: _Key, entry: _Entry, now: datetime) -> None:
        self._cache.pop(key, None)
        self._cache[key] = entry
        if len(self._cache) <= self.max_entries:
            return
        for stale in [k for k, e in self._cache.items() if e.expires <= now]:
            del self._cache[stale]
        while len(self._cache) > self.max_entries:
            del self._cache[next(iter(self._cache))]  # the oldest stored


# --- a minimal HTTP fetch -------------------------------------------------------------------


class _HttpError(OSError):
    """The responder's HTTP answer was not a usable 200 response."""


async def http_post_ocsp(url: str, der_request: bytes, *, max_response_bytes: int = 65536) -> bytes:
    """POST ``der_request`` to an ``http://`` OCSP responder and return the response body.

    Deliberately small (RFC 6960 A.1 over HTTP/1.1): no TLS, proxies, redirects or
    keep-alive; the body must come with Content-Length, chunked, or until the server closes.
    Use it as the ``fetch`` of :class:`OcspClient`, or bring your own HTTP client.
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"only http:// OCSP responders are supported, not {url!r}")
    port = parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/ocsp-request\r\nAccept: application/ocsp-response\r\n"
        f"Content-Length: {len(der_request)}\r\nConnection: close\r\n\r\n"
    )
    received = bytearray()
    async with await anyio.connect_tcp(parts.hostname, port) as stream:
        await stream.send(head.encode("ascii") + der_request)
        while True:
            try:
                received += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                break
            if len(received) > max_response_bytes + 8192:
                raise _HttpError("the OCSP response is too large")
    return _http_body(bytes(received), max_response_bytes)


def _http_body(raw: bytes, limit: int) -> bytes:
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        raise _HttpError("the responder closed before a complete HTTP response")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ", 2)
    if len(status) < 2 or not status[0].startswith("HTTP/1.") or status[1] != "200":
        raise _HttpError(f"the responder answered {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunk(body)
    elif "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise _HttpError("a bad Content-Length") from None
        if len(body) < length:
            raise _HttpError("the responder closed before the whole body")
        body = body[:length]
    if len(body) > limit:
        raise _HttpError("the OCSP response is too large")
    return body


def _unchunk(body: bytes) -> bytes:
    out = bytearray()
    while True:
        size_line, separator, body = body.partition(b"\r\n")
        if not separator:
            raise _HttpError("a truncated chunked body")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            raise _HttpError("a bad chunk size") from None
        if size == 0:
            return bytes(out)
        if len(body) < size + 2:
            raise _HttpError("a truncated chunk")
        out += body[:size]
        body = body[size + 2 :]
