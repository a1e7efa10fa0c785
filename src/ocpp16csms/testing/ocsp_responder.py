"""A loopback OCSP responder over HTTP, for tests of Plug & Charge (needs the ``pnc`` extra).

:class:`OcspResponder` answers RFC 6960 requests for the certificates it is given, each answer
signed by the CA that issued the certificate; :func:`serve_ocsp` serves it over plain HTTP on a
loopback port with anyio, so it runs under asyncio and trio alike::

    responder = OcspResponder.for_pki(pki, clock=lambda: now)
    async with serve_ocsp(responder) as url:
        client = OcspClient(http_post_ocsp, clock=lambda: now)
        result = await client.status(ocsp_request_data(cert, issuer, responder_url=url))
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import anyio
import anyio.abc
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from ..profiles.plug_and_charge.demo_pki import DemoPki
from ..profiles.plug_and_charge.pki import CertifiedKey, public_key_bits

__all__ = ["OcspResponder", "serve_ocsp"]

_MAX_HEAD = 16384
_MAX_BODY = 65536


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


class OcspResponder:
    """Answers OCSP requests about ``certificates`` issued by one of ``issuers``.

    A known certificate is ``good`` unless :meth:`revoke` d; an unknown serial of a known
    issuer is ``unknown``; a request about another issuer gets ``unauthorized`` and an
    unreadable one ``malformedRequest``. ``validity`` sets nextUpdate after thisUpdate (``None``:
    no nextUpdate). ``requests`` counts the HTTP requests served.
    """

    def __init__(
        self,
        issuers: Iterable[CertifiedKey],
        certificates: Iterable[x509.Certificate],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        validity: timedelta | None = timedelta(hours=1),
    ) -> None:
        self.issuers: list[CertifiedKey] = []
        self.clock = clock
        self.validity = validity
        self.revoked: dict[int, tuple[datetime, x509.ReasonFlags | None]] = {}
        self.requests = 0
        self._known: dict[tuple[bytes, int], x509.Certificate] = {}
        self.add(issuers, certificates)

    def add(
        self,
        issuers: Iterable[CertifiedKey] = (),
        certificates: Iterable[x509.Certificate] = (),
    ) -> None:
        """Answer for more issuers and certificates from now on (one issued later, say)."""
        self.issuers.extend(issuers)
        for c in certificates:
            self._known[(c.issuer.public_bytes(), c.serial_number)] = c

    def add_pki(self, pki: DemoPki) -> None:
        """Answer for every CA and certificate of a :class:`DemoPki` (made after the
        responder, to name its URL)."""
        everything = pki.certificates()
        self.add(
            [k for k in everything if _is_ca(k.certificate)], [k.certificate for k in everything]
        )

    @classmethod
    def for_pki(
        cls,
        pki: DemoPki,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        validity: timedelta | None = timedelta(hours=1),
    ) -> OcspResponder:
        """The responder of every CA of a :class:`DemoPki`, for all its certificates."""
        responder = cls((), (), clock=clock, validity=validity)
        responder.add_pki(pki)
        return responder

    def revoke(
        self,
        certificate: x509.Certificate | int,
        *,
        at: datetime,
        reason: x509.ReasonFlags | None = None,
    ) -> None:
        """Answer ``revoked`` for this certificate (or serial) from now on."""
        serial = certificate if isinstance(certificate, int) else certificate.serial_number
        self.revoked[serial] = (at, reason)

    def respond(self, der_request: bytes) -> bytes:
        """The DER OCSP response to a DER OCSP request."""
        try:
            request = ocsp.load_der_ocsp_request(der_request)
            algorithm = request.hash_algorithm
        except (ValueError, UnsupportedAlgorithm):
            return self._unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        issuer = next(
            (
                i
                for i in self.issuers
                if _digest(algorithm, i.certificate.subject.public_bytes())
                == request.issuer_name_hash
                and _digest(algorithm, public_key_bits(i.certificate)) == request.issuer_key_hash
            ),
            None,
        )
        if issuer is None:
            return self._unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        serial = request.serial_number
        known = self._known.get((issuer.certificate.subject.public_bytes(), serial))
        subject = known if known is not None else self._stand_in(issuer, serial)
        now = self.clock()
        revoked = self.revoked.get(serial) if known is not None else None
        if known is None:
            status = ocsp.OCSPCertStatus.UNKNOWN
        elif revoked is not None:
            status = ocsp.OCSPCertStatus.REVOKED
        else:
            status = ocsp.OCSPCertStatus.GOOD
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=subject,
            issuer=issuer.certificate,
            algorithm=algorithm,
            cert_status=status,
            this_update=now,
            next_update=now + self.validity if self.validity is not None else None,
            revocation_time=revoked[0] if revoked is not None else None,
            revocation_reason=revoked[1] if revoked is not None else None,
        )
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.certificate)
        return builder.sign(issuer.private_key, hashes.SHA256()).public_bytes(Encoding.DER)

    @staticmethod
    def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
        return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(Encoding.DER)

    @staticmethod
    def _stand_in(issuer: CertifiedKey, serial: int) -> x509.Certificate:
        # The response builder identifies a certificate by a certificate object; for a serial
        # we never issued, a throwaway one with that serial and issuer name stands in.
        now = datetime.now(UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(issuer.certificate.subject)
            .public_key(issuer.private_key.public_key())
            .serial_number(serial)
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=1))
            .sign(issuer.private_key, hashes.SHA256())
        )

    # --- HTTP --------------------------------------------------------------------------

    async def handle(self, stream: anyio.abc.ByteStream) -> None:
        """Serve one HTTP request on ``stream`` (a connection handler for a listener)."""
        async with stream:
            try:
                with anyio.fail_after(5):
                    reply = await self._answer(stream)
                await stream.send(reply)
            except (TimeoutError, anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                return  # the client went away or stalled: nothing to answer

    async def _answer(self, stream: anyio.abc.ByteStream) -> bytes:
        received = bytearray()
        while b"\r\n\r\n" not in received:
            if len(received) > _MAX_HEAD:
                return _http(431, b"", "text/plain")
            received += await stream.receive()
        head, _, body = bytes(received).partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method = lines[0].split(" ", 1)[0]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if method != "POST":
            return _http(405, b"", "text/plain")
        if headers.get("content-type") != "application/ocsp-request":
            return _http(415, b"", "text/plain")
        try:
            length = int(headers["content-length"])
        except (KeyError, ValueError):
            return _http(411, b"", "text/plain")
        if not 0 <= length <= _MAX_BODY:
            return _http(413, b"", "text/plain")
        while len(body) < length:
            body += await stream.receive()
        self.requests += 1
        return _http(200, self.respond(body[:length]), "application/ocsp-response")


_REASONS = {
    200: "OK",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    431: "Request Header Fields Too Large",
}


def _http(status: int, body: bytes, content_type: str) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


@asynccontextmanager
async def serve_ocsp(responder: OcspResponder, *, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve ``responder`` on a free loopback port; yields its URL (``http://127.0.0.1:N/``)."""
    listener = await anyio.create_tcp_listener(local_host=host, local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, responder.handle)
        try:
            yield f"http://{host}:{port}/"
        finally:
            group.cancel_scope.cancel()
