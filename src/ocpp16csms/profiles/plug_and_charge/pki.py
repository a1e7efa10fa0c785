"""Certificates for Plug & Charge: hash data, chain checks, CSR signing.

Needs the ``pnc`` extra (``cryptography``). ISO 15118-2 certificates are ECDSA on secp256r1
with SHA-256; that is what :func:`sign_csr` accepts and :class:`DemoPki` makes. Nothing here
reads a clock: every time-dependent call takes ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum

import attrs

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID
except ImportError as missing:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "Plug & Charge certificates need the 'pnc' extra: pip install 'ocpp16csms[pnc]'"
    ) from missing

from ...enums import HashAlgorithm
from .datatypes import CertificateHashData, OCSPRequestData
from .enums import AuthorizeCertificateStatus
from .errors import PncError

__all__ = [
    "CLOCK_SKEW",
    "CertificateChainError",
    "CertifiedKey",
    "ChainProblem",
    "CsrError",
    "VerifiedChain",
    "VerifiedContract",
    "authority_information_access",
    "build_csr",
    "ca_key_usage",
    "certificate_hash_data",
    "certificates_to_pem",
    "hash_function",
    "leaf_key_usage",
    "load_pem_certificates",
    "ocsp_request_data",
    "ocsp_responder_url",
    "public_key_bits",
    "same_certificate",
    "sign_csr",
    "verify_chain",
    "verify_contract_chain",
]

CLOCK_SKEW = timedelta(minutes=5)
"""How far before ``now`` a new certificate starts, so that a peer's slow clock accepts it."""


# --- certificates in and out of PEM --------------------------------------------------------


@attrs.frozen
class CertifiedKey:
    """A certificate and its private key."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    def certificate_pem(self) -> str:
        """The certificate, PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def load_pem_certificates(text: str | bytes) -> list[x509.Certificate]:
    """The certificates in PEM text, in order; :class:`CertificateChainError` if there is none."""
    data = text.encode("ascii", "replace") if isinstance(text, str) else text
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise CertificateChainError(
            ChainProblem.MALFORMED, "the text holds no readable PEM certificate"
        ) from None


def certificates_to_pem(certificates: Iterable[x509.Certificate]) -> str:
    """The certificates as one PEM text, in the given order."""
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in certificates)


# --- CertificateHashData and OCSPRequestData -----------------------------------------------


def hash_function(algorithm: HashAlgorithm) -> hashes.HashAlgorithm:
    """The ``cryptography`` hash object for an OCPP hashAlgorithm."""
    chosen = HashAlgorithm(algorithm)
    if chosen is HashAlgorithm.SHA384:
        return hashes.SHA384()
    if chosen is HashAlgorithm.SHA512:
        return hashes.SHA512()
    return hashes.SHA256()


def _digest(algorithm: HashAlgorithm, data: bytes) -> str:
    h = hashes.Hash(hash_function(algorithm))
    h.update(data)
    return h.finalize().hex()


def _der_element(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start, end) of the DER element at ``at``; ``start:end`` is its contents."""
    tag, first = data[at], data[at + 1]
    if first < 0x80:
        return tag, at + 2, at + 2 + first
    size = first & 0x7F
    length = int.from_bytes(data[at + 2 : at + 2 + size], "big")
    return tag, at + 2 + size, at + 2 + size + length


def public_key_bits(certificate: x509.Certificate) -> bytes:
    """The value of the certificate's subjectPublicKey BIT STRING (what issuerKeyHash hashes)."""
    # SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey
    # BIT STRING }. RFC 6960's issuerKeyHash hashes the BIT STRING's value without its tag,
    # length and unused-bits count. cryptography wrote this DER, so it is well formed.
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _, body, _ = _der_element(spki, 0)
    _, _, after_algorithm = _der_element(spki, body)
    tag, start, end = _der_element(spki, after_algorithm)
    if tag != 0x03:  # pragma: no cover - cannot happen for DER from cryptography
        raise ValueError("SubjectPublicKeyInfo without a BIT STRING")
    return spki[start + 1 : end]


def certificate_hash_data(
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    algorithm: HashAlgorithm = HashAlgorithm.SHA256,
) -> CertificateHashData:
    """The OCPP CertificateHashData of ``certificate`` (a root is its own ``issuer``).

    Hashes as in an OCSP CertID (RFC 6960 §4.1.1): of the DER issuer name and of the issuer's
    public key bits; lowercase hex. The serial is lowercase hex without leading zeros.
    """
    return CertificateHashData(
        hash_algorithm=algorithm,
        issuer_name_hash=_digest(algorithm, certificate.issuer.public_bytes()),
        issuer_key_hash=_digest(algorithm, public_key_bits(issuer)),
        serial_number=format(certificate.serial_number, "x"),
    )


def ocsp_responder_url(certificate: x509.Certificate) -> str | None:
    """The first OCSP responder URL of the certificate's Authority Information Access."""
    try:
        access = certificate.extensions.get_extension_for_class(
            x509.AuthorityInformationAccess
        ).value
    except x509.ExtensionNotFound:
        return None
    for description in access:
        location = description.access_location
        if description.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            location, x509.UniformResourceIdentifier
        ):
            return location.value
    return None


def ocsp_request_data(
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    *,
    responder_url: str | None = None,
    algorithm: HashAlgorithm = HashAlgorithm.SHA256,
) -> OCSPRequestData:
    """The OCPP OCSPRequestData of ``certificate``; the URL defaults to its AIA OCSP entry."""
    url = responder_url if responder_url is not None else ocsp_responder_url(certificate)
    if url is None:
        raise ValueError("the certificate names no OCSP responder; pass responder_url")
    hashed = certificate_hash_data(certificate, issuer, algorithm)
    return OCSPRequestData(
        hash_algorithm=hashed.hash_algorithm,
        issuer_name_hash=hashed.issuer_name_hash,
        issuer_key_hash=hashed.issuer_key_hash,
        serial_number=hashed.serial_number,
        responder_url=url,
    )


def _normal_hex(text: str) -> str:
    return text.strip().lower()


def same_certificate(
    one: CertificateHashData | OCSPRequestData, two: CertificateHashData | OCSPRequestData
) -> bool:
    """Whether two hash data name the same certificate: hex compared without case, and the
    serial without leading zeros (peers differ on both)."""
    return (
        one.hash_algorithm == two.hash_algorithm
        and _normal_hex(one.issuer_name_hash) == _normal_hex(two.issuer_name_hash)
        and _normal_hex(one.issuer_key_hash) == _normal_hex(two.issuer_key_hash)
        and (_normal_hex(one.serial_number).lstrip("0") or "0")
        == (_normal_hex(two.serial_number).lstrip("0") or "0")
    )


# --- chain verification --------------------------------------------------------------------


class ChainProblem(StrEnum):
    """Why a certificate chain did not verify."""

    MALFORMED = "Malformed"
    EMPTY = "Empty"
    SIGNATURE = "Signature"
    EXPIRED = "Expired"
    NOT_YET_VALID = "NotYetValid"
    UNTRUSTED = "Untrusted"
    NOT_A_CA = "NotACa"
    LEAF_IS_CA = "LeafIsCa"
    PATH_LENGTH = "PathLength"
    TOO_LONG = "TooLong"


_AUTHORIZE_STATUS = {
    ChainProblem.SIGNATURE: AuthorizeCertificateStatus.SIGNATURE_ERROR,
    ChainProblem.EXPIRED: AuthorizeCertificateStatus.CERTIFICATE_EXPIRED,
    ChainProblem.NOT_YET_VALID: AuthorizeCertificateStatus.CERTIFICATE_EXPIRED,
    ChainProblem.EMPTY: AuthorizeCertificateStatus.NO_CERTIFICATE_AVAILABLE,
}


class CertificateChainError(PncError, ValueError):
    """A certificate chain did not verify; ``problem`` says why, ``subject`` where."""

    def __init__(self, problem: ChainProblem, description: str, *, subject: str | None = None):
        super().__init__(description)
        self.problem = problem
        self.subject = subject

    @property
    def authorize_status(self) -> AuthorizeCertificateStatus:
        """The AuthorizeResponse ``certificateStatus`` this failure earns (2.0.1 C07)."""
        return _AUTHORIZE_STATUS.get(self.problem, AuthorizeCertificateStatus.CERT_CHAIN_ERROR)


@attrs.frozen
class VerifiedChain:
    """A chain that verified: the leaf, the intermediates from the leaf up, the trusted root."""

    leaf: x509.Certificate
    intermediates: tuple[x509.Certificate, ...]
    root: x509.Certificate


@attrs.frozen
class VerifiedContract:
    """A contract certificate chain that verified, and the eMAID its leaf names."""

    emaid: str
    chain: VerifiedChain


def _is_ca(certificate: x509.Certificate) -> tuple[bool, int | None]:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False, None
    return constraints.ca, constraints.path_length


def _may_sign_certificates(certificate: x509.Certificate) -> bool:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.key_cert_sign


def _signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _name(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string()


def _check_validity(certificate: x509.Certificate, now: datetime) -> None:
    if now < certificate.not_valid_before_utc:
        raise CertificateChainError(
            ChainProblem.NOT_YET_VALID,
            f"{_name(certificate)} is valid only from {certificate.not_valid_before_utc}",
            subject=_name(certificate),
        )
    if now > certificate.not_valid_after_utc:
        raise CertificateChainError(
            ChainProblem.EXPIRED,
            f"{_name(certificate)} expired at {certificate.not_valid_after_utc}",
            subject=_name(certificate),
        )


def verify_chain(
    chain: str | bytes | Sequence[x509.Certificate],
    trusted_roots: Iterable[x509.Certificate],
    *,
    now: datetime,
    max_intermediates: int = 4,
) -> VerifiedChain:
    """Verify a chain, leaf first, against trusted roots at the time ``now``.

    The certificates after the leaf may come in any order and may include the root; those
    the path does not need are ignored. A bad signature by a certificate of the chain is
    :attr:`ChainProblem.SIGNATURE`; a top certificate that no trusted root signed, even one
    naming a trusted root as its issuer, is :attr:`ChainProblem.UNTRUSTED`. Checked too:
    each validity period (root included), the CA flag, key usage and path length of every
    issuer, and that the leaf is no CA. Raises :class:`CertificateChainError`.
    """
    certificates = load_pem_certificates(chain) if isinstance(chain, str | bytes) else list(chain)
    if not certificates:
        raise CertificateChainError(ChainProblem.EMPTY, "no certificate given")
    roots = list(trusted_roots)
    root_ders = {r.public_bytes(serialization.Encoding.DER) for r in roots}
    leaf = certificates[0]
    if _is_ca(leaf)[0]:
        raise CertificateChainError(
            ChainProblem.LEAF_IS_CA, f"the leaf {_name(leaf)} is a CA", subject=_name(leaf)
        )
    pool = [
        c for c in certificates[1:] if c.public_bytes(serialization.Encoding.DER) not in root_ders
    ]
    path = [leaf]
    current = leaf
    while True:
        named_roots = [r for r in roots if r.subject == current.issuer]
        root = next((r for r in named_roots if _signed_by(current, r)), None)
        if root is not None:
            break
        candidates = [c for c in pool if c.subject == current.issuer]
        issuer = next((c for c in candidates if _signed_by(current, c)), None)
        if issuer is None:
            if candidates:
                # A certificate of the chain names the issuer but did not sign: tampered or forged.
                raise CertificateChainError(
                    ChainProblem.SIGNATURE,
                    f"the signature of {_name(current)} does not verify",
                    subject=_name(current),
                )
            # Also when a trusted root has the issuer's name but not its key: another PKI
            # that happens to use the same names is not a forgery of ours.
            raise CertificateChainError(
                ChainProblem.UNTRUSTED,
                f"no trusted root or given certificate issued {_name(current)}",
                subject=_name(current),
            )
        pool.remove(issuer)
        path.append(issuer)
        if len(path) - 1 > max_intermediates:
            raise CertificateChainError(
                ChainProblem.TOO_LONG, f"more than {max_intermediates} intermediate certificates"
            )
        current = issuer
    for certificate in [*path, root]:
        _check_validity(certificate, now)
    for below, issuer in enumerate([*path[1:], root]):
        is_ca, path_length = _is_ca(issuer)
        if not is_ca or not _may_sign_certificates(issuer):
            raise CertificateChainError(
                ChainProblem.NOT_A_CA,
                f"{_name(issuer)} is not a CA but issued a certificate",
                subject=_name(issuer),
            )
        if path_length is not None and below > path_length:
            raise CertificateChainError(
                ChainProblem.PATH_LENGTH,
                f"{_name(issuer)} allows {path_length} CAs below it, the chain has {below}",
                subject=_name(issuer),
            )
    return VerifiedChain(leaf=leaf, intermediates=tuple(path[1:]), root=root)


def verify_contract_chain(
    chain: str | bytes | Sequence[x509.Certificate],
    mo_roots: Iterable[x509.Certificate],
    *,
    now: datetime,
) -> VerifiedContract:
    """Verify a contract certificate chain (AuthorizeRequest ``certificate``) against MO roots.

    The eMAID is the leaf's subject common name (ISO 15118-2). Raises
    :class:`CertificateChainError`; its ``authorize_status`` is the ``certificateStatus`` to
    answer with.
    """
    verified = verify_chain(chain, mo_roots, now=now)
    names = verified.leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    emaid = names[0].value if names else None
    if not isinstance(emaid, str) or not emaid:
        raise CertificateChainError(
            ChainProblem.MALFORMED, "the contract certificate names no eMAID in its CN"
        )
    return VerifiedContract(emaid=emaid, chain=verified)


# --- CSRs ----------------------------------------------------------------------------------


class CsrError(PncError, ValueError):
    """A certificate signing request we will not sign: unreadable, badly signed, wrong key."""


def build_csr(
    common_name: str,
    *,
    organization: str | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> tuple[str, ec.EllipticCurvePrivateKey]:
    """A PEM CSR for a P-256 key (new unless given), as a charge point makes one; and the key."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(attributes))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii"), key


def authority_information_access(ocsp_url: str | None) -> list[x509.ExtensionType]:
    """The AIA extension naming ``ocsp_url`` as OCSP responder; none without a URL."""
    if ocsp_url is None:
        return []
    return [
        x509.AuthorityInformationAccess(
            [
                x509.AccessDescription(
                    AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
                )
            ]
        )
    ]


def sign_csr(
    csr_pem: str | bytes,
    issuer: CertifiedKey,
    *,
    now: datetime,
    chain: Sequence[x509.Certificate] = (),
    validity: timedelta = timedelta(days=365),
    expected_common_name: str | None = None,
    ocsp_url: str | None = None,
) -> str:
    """Sign a V2G (SECC) CSR; return the PEM chain: the new leaf, ``issuer``, then ``chain``.

    The CSR's own signature is checked first and its key must be ECDSA P-256 (ISO 15118-2);
    with ``expected_common_name`` its CN must match. The leaf ends no later than the issuer.
    Raises :class:`CsrError`.
    """
    data = csr_pem.encode("ascii", "replace") if isinstance(csr_pem, str) else csr_pem
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError:
        raise CsrError("the text is not a PEM certificate signing request") from None
    try:
        signed = csr.is_signature_valid
        public_key = csr.public_key()
    except (ValueError, TypeError):
        raise CsrError("the CSR's key cannot be read") from None
    if not signed:
        raise CsrError("the CSR's signature does not verify")
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise CsrError("a V2G certificate needs an ECDSA secp256r1 key (ISO 15118-2)")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = names[0].value if names else None
    if expected_common_name is not None and common_name != expected_common_name:
        raise CsrError(f"the CSR's CN is {common_name!r}, expected {expected_common_name!r}")
    not_after = min(now + validity, issuer.certificate.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(issuer.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(leaf_key_usage(key_agreement=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.private_key.public_key()),
            critical=False,
        )
    )
    for extension in authority_information_access(ocsp_url):
        builder = builder.add_extension(extension, critical=False)
    leaf = builder.sign(issuer.private_key, hashes.SHA256())
    return certificates_to_pem([leaf, issuer.certificate, *chain])


def leaf_key_usage(*, key_agreement: bool) -> x509.KeyUsage:
    """Key usage of an end-entity certificate: signing, and key agreement for a TLS server."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=key_agreement,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def ca_key_usage() -> x509.KeyUsage:
    """Key usage of a CA: certificate and CRL signing."""
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
