"""Signed firmware for real: sign a firmware file, and check a signature before sending it
(security whitepaper §4.2 Firmware, §5.21 SignedUpdateFirmware, use case L01).

The whitepaper has the charge point check that the firmware signing certificate chains to its
ManufacturerRootCertificate and that the signature holds over the whole file, with SHA-256.
:class:`FirmwareVerifier` makes the same checks *before* SignedUpdateFirmware is sent (a
pre-send check), so that a wrong signature, certificate or file is refused with
:class:`FirmwareSignatureError` and nothing goes to the charge point. :func:`sign_firmware` is
the other end, for a host's build pipeline and for tests.

Algorithms: the whitepaper names RSA-PSS and "ECSchnorr" with SHA-256. ECSchnorr has no
standard encoding, and deployed charge points use ECDSA; so ECDSA-SHA256 (DER) is what an EC
key signs and is checked with, and an RSA signature is accepted as RSA-PSS (MGF1-SHA256, any
salt length) or PKCS#1 v1.5, both with SHA-256 (RSA-PSS is what :func:`sign_firmware` makes).
Needs ``cryptography`` (the ``signing`` extra); imported on first use.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import attrs

from ...engine import Engine
from ...errors import InvalidRequest
from ...messages import SignedUpdateFirmwareRequest

__all__ = [
    "FirmwareContent",
    "FirmwareSignature",
    "FirmwareSignatureError",
    "FirmwareVerifier",
    "sign_firmware",
    "verify_firmware_signature",
]

_MAX_CHAIN = 4

FirmwareContent = Callable[[str], Awaitable[bytes | None]]
"""``async def content(location) -> bytes | None``: the firmware file a location serves (None:
unknown), e.g. :meth:`~ocpp16csms.transports.file_transfer.FileTransfers.firmware_content`."""


class FirmwareSignatureError(InvalidRequest):
    """The firmware, its signature and its signing certificate do not hold together, or the
    certificate does not chain to a trusted root; nothing was sent. ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"signed firmware refused: {reason}")
        self.reason = reason


@attrs.frozen(kw_only=True)
class FirmwareSignature:
    """The two fields of the whitepaper's Firmware datatype that :func:`sign_firmware` makes:
    ``signature`` (base64) and ``signing_certificate`` (PEM)."""

    signature: str
    signing_certificate: str


def _crypto() -> Any:
    try:
        from cryptography import x509
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    except ImportError as missing:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "signed firmware needs the 'signing' extra: pip install 'ocpp16csms[signing]'"
        ) from missing
    return SimpleNamespace(
        x509=x509,
        InvalidSignature=InvalidSignature,
        hashes=hashes,
        serialization=serialization,
        ec=ec,
        padding=padding,
        rsa=rsa,
    )


def sign_firmware(
    firmware: bytes,
    *,
    private_key_pem: bytes | str,
    certificate_pem: str,
    password: bytes | None = None,
) -> FirmwareSignature:
    """Sign ``firmware`` with the key of the firmware signing certificate.

    An RSA key signs with RSA-PSS (salt as long as the digest), an EC key with ECDSA, both
    over SHA-256. Raises ``ValueError`` when the key is of another kind or is not the
    certificate's.
    """
    c = _crypto()
    key_bytes = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
    key = c.serialization.load_pem_private_key(key_bytes, password=password)
    certificate = c.x509.load_pem_x509_certificate(certificate_pem.encode())
    public = certificate.public_key()
    if public.public_numbers() != key.public_key().public_numbers():
        raise ValueError("the private key is not the signing certificate's")
    if isinstance(key, c.rsa.RSAPrivateKey):
        pss = c.padding.PSS(
            mgf=c.padding.MGF1(c.hashes.SHA256()), salt_length=c.padding.PSS.DIGEST_LENGTH
        )
        signature = key.sign(firmware, pss, c.hashes.SHA256())
    elif isinstance(key, c.ec.EllipticCurvePrivateKey):
        signature = key.sign(firmware, c.ec.ECDSA(c.hashes.SHA256()))
    else:
        raise ValueError(f"firmware is signed with an RSA or EC key, not {type(key).__name__}")
    pem = certificate.public_bytes(c.serialization.Encoding.PEM).decode()
    return FirmwareSignature(
        signature=base64.b64encode(signature).decode(), signing_certificate=pem
    )


def verify_firmware_signature(
    firmware: bytes,
    *,
    signature: str,
    signing_certificate: str,
    roots: Iterable[str],
    now: datetime,
    intermediates: Iterable[str] = (),
) -> None:
    """Raise :class:`FirmwareSignatureError` unless ``signature`` (base64) holds over
    ``firmware`` under ``signing_certificate`` (PEM), and that certificate chains, through
    ``intermediates`` if need be, to one of ``roots`` (PEM ManufacturerRootCertificates),
    every certificate valid at ``now`` and every issuer a CA."""
    c = _crypto()
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise FirmwareSignatureError("the signature is not base64") from None
    try:
        leaf = c.x509.load_pem_x509_certificate(signing_certificate.encode())
    except ValueError:
        raise FirmwareSignatureError("the signing certificate is not a PEM certificate") from None
    trusted = _load_all(c, roots, "root")
    if not trusted:
        raise FirmwareSignatureError("no trusted root certificate was given")
    _check_chain(c, leaf, _load_all(c, intermediates, "intermediate"), trusted, now)
    if not _signature_holds(c, leaf.public_key(), raw, firmware):
        raise FirmwareSignatureError(
            "the signature does not match the firmware file and the signing certificate"
        )


def _load_all(c: Any, pems: Iterable[str], what: str) -> list[Any]:
    loaded = []
    for pem in pems:
        try:
            loaded.extend(c.x509.load_pem_x509_certificates(pem.encode()))
        except ValueError:
            raise ValueError(f"an {what} certificate is not PEM") from None
    return loaded


def _check_chain(
    c: Any, leaf: Any, intermediates: list[Any], roots: list[Any], now: datetime
) -> None:
    moment = now.astimezone(UTC)
    current = leaf
    for _ in range(_MAX_CHAIN + 1):
        _check_validity(current, moment)
        for root in roots:
            if _issued_by(c, current, root):
                _check_validity(root, moment)
                _check_ca(c, root)
                return
        issuer = next((i for i in intermediates if _issued_by(c, current, i)), None)
        if issuer is None:
            raise FirmwareSignatureError(
                "the signing certificate does not chain to a trusted root "
                f"(no issuer found for {current.subject.rfc4514_string()!r})"
            )
        _check_ca(c, issuer)
        current = issuer
    raise FirmwareSignatureError(f"the certificate chain is longer than {_MAX_CHAIN}")


def _issued_by(c: Any, certificate: Any, issuer: Any) -> bool:
    if certificate.issuer != issuer.subject:
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, c.InvalidSignature):
        return False
    return True


def _check_validity(certificate: Any, moment: datetime) -> None:
    if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
        raise FirmwareSignatureError(
            f"{certificate.subject.rfc4514_string()!r} is not valid at {moment.isoformat()}"
        )


def _check_ca(c: Any, certificate: Any) -> None:
    try:
        constraints = certificate.extensions.get_extension_for_class(c.x509.BasicConstraints)
    except c.x509.ExtensionNotFound:
        return  # an old-style root without the extension: trusted because it was given
    if not constraints.value.ca:
        raise FirmwareSignatureError(
            f"{certificate.subject.rfc4514_string()!r} is not a CA: it cannot issue"
        )


def _signature_holds(c: Any, public: Any, signature: bytes, data: bytes) -> bool:
    sha256 = c.hashes.SHA256()
    if isinstance(public, c.ec.EllipticCurvePublicKey):
        attempts: Sequence[Callable[[], None]] = [
            lambda: public.verify(signature, data, c.ec.ECDSA(sha256))
        ]
    elif isinstance(public, c.rsa.RSAPublicKey):
        pss = c.padding.PSS(mgf=c.padding.MGF1(sha256), salt_length=c.padding.PSS.AUTO)
        attempts = [
            lambda: public.verify(signature, data, pss, sha256),
            lambda: public.verify(signature, data, c.padding.PKCS1v15(), sha256),
        ]
    else:
        raise FirmwareSignatureError(f"a {type(public).__name__} key cannot sign firmware here")
    for attempt in attempts:
        try:
            attempt()
        except c.InvalidSignature:
            continue
        return True
    return False


class FirmwareVerifier:
    """Checks every SignedUpdateFirmware before it is sent (see the module docstring).

    ``roots`` are the PEM ManufacturerRootCertificates the charge points trust (and
    ``intermediates`` any sub-CA certificates between them and signing certificates);
    ``content`` gives the firmware file behind a location. A location whose file ``content``
    does not know is refused unless ``allow_unknown_files``. :meth:`install` registers the
    check on a central system; ``clock`` defaults to the central system's.
    """

    def __init__(
        self,
        *,
        roots: Iterable[str],
        content: FirmwareContent,
        intermediates: Iterable[str] = (),
        allow_unknown_files: bool = False,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.roots = tuple(roots)
        self.intermediates = tuple(intermediates)
        c = _crypto()
        _load_all(c, self.roots, "root")  # refuse bad PEM now rather than at the first send
        _load_all(c, self.intermediates, "intermediate")
        if not self.roots:
            raise ValueError("a FirmwareVerifier needs at least one root certificate")
        self.content = content
        self.allow_unknown_files = allow_unknown_files
        self._clock = clock

    def install(self, engine: Engine) -> None:
        """Check every SignedUpdateFirmware ``engine`` sends, whoever sends it."""
        if self._clock is None:
            self._clock = engine.clock
        engine.add_pre_send_check(SignedUpdateFirmwareRequest, self.check)

    async def check(self, charge_point_id: str, request: SignedUpdateFirmwareRequest) -> None:
        """The pre-send check: raise :class:`FirmwareSignatureError` to stop the call."""
        firmware = request.firmware
        data = await self.content(firmware.location)
        if data is None:
            if self.allow_unknown_files:
                return
            raise FirmwareSignatureError(
                f"the file at {firmware.location!r} is unknown, so its signature cannot be checked"
            )
        now = self._clock() if self._clock is not None else datetime.now(UTC)
        verify_firmware_signature(
            data,
            signature=firmware.signature,
            signing_certificate=firmware.signing_certificate,
            roots=self.roots,
            intermediates=self.intermediates,
            now=now,
        )
