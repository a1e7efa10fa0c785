"""Certificates for the security cases: what the tool's charge point computes and checks.

Reading a certificate needs only a small DER walk (serial number, issuer, subject common
name, public key): the hash data of whitepaper §5.8 (``CertificateHashData``, as OCSP's
CertID, RFC 6960 §4.1.1), and the server certificate checks of TC_086_CSMS. Making a key pair
and a certificate signing request (TC_074_CSMS, TC_077_CSMS) needs the ``cryptography``
package, imported only then.
"""

from __future__ import annotations

import base64
import hashlib
import re
import ssl
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import attrs

from ...datatypes import CertificateHashData
from ...enums import HashAlgorithm

__all__ = [
    "TEST_ROOT_1",
    "TEST_ROOT_2",
    "CertificateFacts",
    "ClientCertificate",
    "KeyPair",
    "certificate_facts",
    "client_context",
    "hash_data",
    "make_key_and_csr",
    "pem_certificates",
    "same_hash_data",
]

# Two self-signed ECDSA P-256 roots made for this suite (valid 2025–2124). Their keys were
# thrown away: they are only ever installed, listed and deleted, never used to sign.
TEST_ROOT_1 = """-----BEGIN CERTIFICATE-----
MIIBwjCCAWegAwIBAgIUaNckWqw4clrdb+77tBFpZJG6ij4wCgYIKoZIzj0EAwIw
TTEkMCIGA1UEAwwbb2NwcDE2Y3NtcyBPQ1RUIHRlc3Qgcm9vdCAxMSUwIwYDVQQK
DBxvY3BwMTZjc21zIGNvbmZvcm1hbmNlIHN1aXRlMCAXDTI1MDEwMTAwMDAwMFoY
DzIxMjQxMjMxMDAwMDAwWjBNMSQwIgYDVQQDDBtvY3BwMTZjc21zIE9DVFQgdGVz
dCByb290IDExJTAjBgNVBAoMHG9jcHAxNmNzbXMgY29uZm9ybWFuY2Ugc3VpdGUw
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATmycH1EGl7v+UyVmA4IKD8ldks9kWm
Q336ce+vh121tO7jbdtMz4VoNQpXSkEeSVZnAC90/UJ/9vYjuBZNsnLDoyMwITAP
BgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIBhjAKBggqhkjOPQQDAgNJADBG
AiEAjVNQL45Nt/n0qMVpTz+Wy8ZEqjnws9HLTwmvp4zucU0CIQCXK+V10ZqvZlI8
Ns9bQHznSbQXcrrANKzvoSSlIi7u5g==
-----END CERTIFICATE-----
"""
"""The root certificate installed by TC_075_1/2 and TC_078 unless the settings give one."""

TEST_ROOT_2 = """-----BEGIN CERTIFICATE-----
MIIBwjCCAWegAwIBAgIUXoZeMh8E4vZGjGIvGRTKbMIIJyowCgYIKoZIzj0EAwIw
TTEkMCIGA1UEAwwbb2NwcDE2Y3NtcyBPQ1RUIHRlc3Qgcm9vdCAyMSUwIwYDVQQK
DBxvY3BwMTZjc21zIGNvbmZvcm1hbmNlIHN1aXRlMCAXDTI1MDEwMTAwMDAwMFoY
DzIxMjQxMjMxMDAwMDAwWjBNMSQwIgYDVQQDDBtvY3BwMTZjc21zIE9DVFQgdGVz
dCByb290IDIxJTAjBgNVBAoMHG9jcHAxNmNzbXMgY29uZm9ybWFuY2Ugc3VpdGUw
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQ6ZwkFAbEsV/wBPqTE8kYSnl9vULvQ
9+ALxaLJtYTVd4J8dBxZjquibOsSh/N2Tc41pUUwgSHz8tLfFLHYEVARoyMwITAP
BgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIBhjAKBggqhkjOPQQDAgNJADBG
AiEA0fmx5WeYSwldQpy2ACdYgG4T8Ewr84E2Urjaqm7VjIYCIQCRLsHspayc0E21
ERTiajGJdoHIYzJemq3I3J9plDxyUQ==
-----END CERTIFICATE-----
"""
""""Root 2" of TC_076_CSMS, installed and then deleted."""

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)
_OID_COMMON_NAME = bytes.fromhex("550403")
_OID_RSA = bytes.fromhex("2a864886f70d010101")
_OID_EC = bytes.fromhex("2a8648ce3d0201")
_OID_DSA = bytes.fromhex("2a8648ce380401")
_OID_ED25519 = bytes.fromhex("2b6570")
_OID_ED448 = bytes.fromhex("2b6571")
_HASHES = {
    HashAlgorithm.SHA256: hashlib.sha256,
    HashAlgorithm.SHA384: hashlib.sha384,
    HashAlgorithm.SHA512: hashlib.sha512,
}


class _Der:
    """A minimal DER reader: (tag, value start, value end) triples over one buffer."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, offset: int) -> tuple[int, int, int]:
        data = self.data
        tag, length = data[offset], data[offset + 1]
        start = offset + 2
        if length & 0x80:
            size = length & 0x7F
            if not 0 < size <= 4:
                raise ValueError("unsupported DER length")
            length = int.from_bytes(data[start : start + size], "big")
            start += size
        end = start + length
        if end > len(data):
            raise ValueError("truncated DER")
        return tag, start, end

    def children(self, start: int, end: int) -> list[tuple[int, int, int, int]]:
        """(tag, value start, value end, element start) of each element in [start, end)."""
        found = []
        while start < end:
            tag, value_start, value_end = self.read(start)
            found.append((tag, value_start, value_end, start))
            start = value_end
        return found


@attrs.frozen(kw_only=True)
class CertificateFacts:
    """What the suite reads from an X.509 certificate."""

    der: bytes = attrs.field(repr=False)
    serial_number: int
    issuer_der: bytes = attrs.field(repr=False)
    subject_common_names: tuple[str, ...]
    public_key_info: bytes = attrs.field(repr=False)
    """The whole SubjectPublicKeyInfo element."""
    public_key_bits: bytes = attrs.field(repr=False)
    """The subject public key's BIT STRING value, without its unused-bits octet."""
    key_type: str
    """``"RSA"``, ``"EC"``, ``"DSA"``, ``"Ed25519"``, ``"Ed448"`` or ``"unknown"``."""
    key_size: int
    """Bits of the modulus (RSA), field (EC) or prime (DSA); 0 when unknown."""
    not_before: datetime
    not_after: datetime


def _text(der: _Der, tag: int, start: int, end: int) -> str:
    raw = der.data[start:end]
    if tag == 0x1E:  # BMPString
        return raw.decode("utf-16-be", errors="replace")
    return raw.decode("utf-8", errors="replace")


def _time(der: _Der, tag: int, start: int, end: int) -> datetime:
    text = der.data[start:end].decode("ascii")
    if tag == 0x17:  # UTCTime: two-digit years, 1950-2049 (RFC 5280 §4.1.2.5.1)
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    return datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)


def _key_size(der: _Der, algorithm: tuple[int, int, int], key: bytes) -> tuple[str, int]:
    parts = der.children(algorithm[0], algorithm[1])
    oid = der.data[parts[0][1] : parts[0][2]]
    if oid == _OID_RSA:
        inner = _Der(key)
        _, start, end = inner.read(0)
        _, modulus_start, modulus_end, _ = inner.children(start, end)[0]
        modulus = int.from_bytes(key[modulus_start:modulus_end], "big")
        return "RSA", modulus.bit_length()
    if oid == _OID_EC:
        # An uncompressed point is 04 || X || Y, a compressed one 02/03 || X.
        field = (len(key) - 1) // 2 if key[:1] == b"\x04" else len(key) - 1
        return "EC", field * 8
    if oid == _OID_DSA and len(parts) > 1:
        p = der.children(parts[1][1], parts[1][2])[0]
        return "DSA", int.from_bytes(der.data[p[1] : p[2]], "big").bit_length()
    if oid == _OID_ED25519:
        return "Ed25519", 256
    if oid == _OID_ED448:
        return "Ed448", 456
    return "unknown", 0


def certificate_facts(der_or_pem: bytes | str) -> CertificateFacts:
    """Read one certificate (DER bytes or PEM text); ``ValueError`` if it is not one."""
    data = pem_certificates(der_or_pem)[0] if isinstance(der_or_pem, str) else der_or_pem
    try:
        der = _Der(data)
        _, start, end = der.read(0)
        tbs = der.children(*der.children(start, end)[0][1:3])
        if tbs[0][0] == 0xA0:  # explicit version
            tbs = tbs[1:]
        serial, _, issuer, validity, subject, spki = tbs[:6]
        names = []
        for rdn in der.children(subject[1], subject[2]):
            for attribute in der.children(rdn[1], rdn[2]):
                oid, value = der.children(attribute[1], attribute[2])[:2]
                if data[oid[1] : oid[2]] == _OID_COMMON_NAME:
                    names.append(_text(der, value[0], value[1], value[2]))
        algorithm, bit_string = der.children(spki[1], spki[2])[:2]
        key = data[bit_string[1] + 1 : bit_string[2]]
        key_type, key_size = _key_size(der, (algorithm[1], algorithm[2], algorithm[3]), key)
        begin, finish = der.children(validity[1], validity[2])[:2]
        return CertificateFacts(
            der=data,
            serial_number=int.from_bytes(data[serial[1] : serial[2]], "big", signed=True),
            issuer_der=data[issuer[3] : issuer[2]],
            subject_common_names=tuple(names),
            public_key_info=data[spki[3] : spki[2]],
            public_key_bits=key,
            key_type=key_type,
            key_size=key_size,
            not_before=_time(der, begin[0], begin[1], begin[2]),
            not_after=_time(der, finish[0], finish[1], finish[2]),
        )
    except (IndexError, ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"not an X.509 certificate: {error}") from None


def pem_certificates(text: str) -> list[bytes]:
    """The DER of each ``CERTIFICATE`` block of a PEM text, in order."""
    blocks = [base64.b64decode("".join(body.split())) for body in _PEM.findall(text)]
    if not blocks:
        raise ValueError("no PEM CERTIFICATE block")
    return blocks


def hash_data(
    certificate: CertificateFacts,
    issuer: CertificateFacts | None = None,
    algorithm: HashAlgorithm = HashAlgorithm.SHA256,
) -> CertificateHashData:
    """The certificate's ``CertificateHashData`` (whitepaper §5.8): hashes of the issuer's
    name and public key and the serial number in hex; ``issuer`` defaults to the certificate
    itself (a root)."""
    digest = _HASHES[algorithm]
    issuer = issuer or certificate
    return CertificateHashData(
        hash_algorithm=algorithm,
        issuer_name_hash=digest(certificate.issuer_der).hexdigest(),
        issuer_key_hash=digest(issuer.public_key_bits).hexdigest(),
        serial_number=format(certificate.serial_number, "x"),
    )


def same_hash_data(a: CertificateHashData, b: CertificateHashData) -> bool:
    """Whether two hash data name the same certificate (hex compared without case, the
    serial number without leading zeros)."""
    return (
        a.hash_algorithm is b.hash_algorithm
        and a.issuer_name_hash.lower() == b.issuer_name_hash.lower()
        and a.issuer_key_hash.lower() == b.issuer_key_hash.lower()
        and a.serial_number.lower().lstrip("0") == b.serial_number.lower().lstrip("0")
    )


@attrs.frozen(kw_only=True)
class ClientCertificate:
    """A TLS client certificate (security profile 3): PEM chain, leaf first, and its key."""

    certificate_chain_pem: str = attrs.field(repr=False)
    private_key_pem: str = attrs.field(repr=False)


@attrs.frozen(kw_only=True)
class KeyPair:
    """A charge point key pair and its certificate signing request (PEM)."""

    private_key_pem: str = attrs.field(repr=False)
    csr_pem: str
    public_key_info: bytes = attrs.field(repr=False)


def make_key_and_csr(common_name: str, organization: str) -> KeyPair:
    """A new ECDSA P-256 key and a CSR for it (whitepaper §5.17: the subject names the
    charge point). Needs the ``cryptography`` package."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return KeyPair(
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii"),
        csr_pem=csr.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        public_key_info=key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )


def client_context(
    ca_pem: str | None, client_certificate: ClientCertificate | None = None
) -> ssl.SSLContext:
    """A TLS client context trusting ``ca_pem`` (None: the system's store), presenting
    ``client_certificate`` when given (security profile 3)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=ca_pem)
    if client_certificate is not None:
        # The ssl module loads certificates and keys from files only.
        with tempfile.TemporaryDirectory() as directory:
            chain = Path(directory, "chain.pem")
            key = Path(directory, "key.pem")
            chain.write_text(client_certificate.certificate_chain_pem, encoding="ascii")
            key.write_text(client_certificate.private_key_pem, encoding="ascii")
            key.chmod(0o600)
            context.load_cert_chain(chain, key)
    return context
