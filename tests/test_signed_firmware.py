"""Signed firmware (profiles/security/firmware_signing.py): signing, chains, the pre-send check."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from harness import BOOT, T0, connected, make_central_system
from ocpp16csms import InvalidRequest
from ocpp16csms.messages import Firmware, SignedUpdateFirmwareRequest
from ocpp16csms.profiles.security import (
    FirmwareSignatureError,
    FirmwareVerifier,
    sign_firmware,
    verify_firmware_signature,
)

FIRMWARE = b"\x7fELF firmware image " * 1000


@attrs.frozen
class Certified:
    key: Any
    certificate: x509.Certificate

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def certify(
    name: str,
    *,
    issuer: Certified | None = None,
    ca: bool = False,
    kind: str = "ec",
    days: int = 365,
    start: Any = None,
) -> Certified:
    key = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ec"
        else rsa.generate_private_key(65537, 2048)
    )
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    begin = (start or T0) - timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(begin)
        .not_valid_after(begin + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    certificate = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return Certified(key, certificate)


@pytest.fixture(scope="module")
def pki() -> dict[str, Certified]:
    root = certify("Manufacturer Root", ca=True)
    sub = certify("Manufacturer Sub-CA", issuer=root, ca=True)
    return {
        "root": root,
        "sub": sub,
        "signer": certify("Firmware Signer", issuer=root),
        "rsa_signer": certify("RSA Firmware Signer", issuer=root, kind="rsa"),
        "sub_signer": certify("Signer under Sub-CA", issuer=sub),
        "not_ca": certify("Not a CA", issuer=root),
        "other_root": certify("Someone else", ca=True),
    }


def verify(signed: Any, data: bytes, pki: dict[str, Certified], **options: Any) -> None:
    options.setdefault("roots", [pki["root"].pem])
    options.setdefault("now", T0)
    verify_firmware_signature(
        data,
        signature=signed.signature,
        signing_certificate=signed.signing_certificate,
        **options,
    )


@pytest.mark.parametrize("signer", ["signer", "rsa_signer"])
def test_a_signed_file_verifies_and_any_change_is_refused(
    signer: str, pki: dict[str, Certified]
) -> None:
    who = pki[signer]
    signed = sign_firmware(FIRMWARE, private_key_pem=who.key_pem, certificate_pem=who.pem)
    assert base64.b64decode(signed.signature)
    assert signed.signing_certificate == who.pem
    verify(signed, FIRMWARE, pki)
    with pytest.raises(FirmwareSignatureError, match="does not match the firmware"):
        verify(signed, FIRMWARE + b"\x00", pki)
    with pytest.raises(FirmwareSignatureError, match="does not chain"):
        verify(signed, FIRMWARE, pki, roots=[pki["other_root"].pem])
    # Another certificate than the one that signed: the signature does not hold under it.
    other = attrs.evolve(signed, signing_certificate=pki["sub_signer"].pem)
    with pytest.raises(FirmwareSignatureError):
        verify(other, FIRMWARE, pki, intermediates=[pki["sub"].pem])


def test_rsa_pkcs1_v15_signatures_are_accepted_too(pki: dict[str, Certified]) -> None:
    who = pki["rsa_signer"]
    raw = who.key.sign(FIRMWARE, padding.PKCS1v15(), hashes.SHA256())
    signature = base64.b64encode(raw).decode()
    verify_firmware_signature(
        FIRMWARE, signature=signature, signing_certificate=who.pem, roots=[pki["root"].pem], now=T0
    )


def test_chains_validity_and_ca_flags(pki: dict[str, Certified]) -> None:
    who = pki["sub_signer"]
    signed = sign_firmware(FIRMWARE, private_key_pem=who.key_pem, certificate_pem=who.pem)
    with pytest.raises(FirmwareSignatureError, match="does not chain"):
        verify(signed, FIRMWARE, pki)
    verify(signed, FIRMWARE, pki, intermediates=[pki["sub"].pem])
    with pytest.raises(FirmwareSignatureError, match="not valid at"):
        verify(signed, FIRMWARE, pki, intermediates=[pki["sub"].pem], now=T0 + timedelta(days=400))
    # An issuer that is not a CA cannot issue a signing certificate.
    fake = certify("Issued by a leaf", issuer=pki["not_ca"])
    signed = sign_firmware(FIRMWARE, private_key_pem=fake.key_pem, certificate_pem=fake.pem)
    with pytest.raises(FirmwareSignatureError, match="not a CA"):
        verify(signed, FIRMWARE, pki, intermediates=[pki["not_ca"].pem])
    with pytest.raises(FirmwareSignatureError, match="base64"):
        verify_firmware_signature(
            FIRMWARE, signature="%%", signing_certificate=who.pem, roots=[pki["root"].pem], now=T0
        )
    with pytest.raises(FirmwareSignatureError, match="PEM certificate"):
        verify_firmware_signature(
            FIRMWARE, signature="AAAA", signing_certificate="nope", roots=[pki["root"].pem], now=T0
        )
    with pytest.raises(ValueError, match="not the signing certificate's"):
        sign_firmware(FIRMWARE, private_key_pem=pki["root"].key_pem, certificate_pem=who.pem)


@pytest.mark.anyio
async def test_a_bad_signature_is_refused_before_sending(pki: dict[str, Certified]) -> None:
    cs = make_central_system()
    files = {"https://fw.example.com/volt-2.1.bin": FIRMWARE}

    async def content(location: str) -> bytes | None:
        return files.get(location)

    FirmwareVerifier(roots=[pki["root"].pem], content=content).install(cs)
    who = pki["signer"]
    signed = sign_firmware(FIRMWARE, private_key_pem=who.key_pem, certificate_pem=who.pem)

    def firmware(location: str, signature: str = signed.signature) -> Firmware:
        return Firmware(
            location=location,
            retrieve_date_time=T0,
            signing_certificate=signed.signing_certificate,
            signature=signature,
        )

    async with connected(cs) as cp:
        await cp.call(BOOT)
        good = firmware("https://fw.example.com/volt-2.1.bin")
        await cs.security.signed_update_firmware("CP1", request_id=1, firmware=good)
        assert len(cp.received_of(SignedUpdateFirmwareRequest)) == 1
        other = sign_firmware(b"other", private_key_pem=who.key_pem, certificate_pem=who.pem)
        with pytest.raises(FirmwareSignatureError, match="does not match") as refused:
            await cs.security.signed_update_firmware(
                "CP1",
                request_id=2,
                firmware=firmware("https://fw.example.com/volt-2.1.bin", other.signature),
            )
        assert isinstance(refused.value, InvalidRequest)
        with pytest.raises(FirmwareSignatureError, match="unknown"):
            await cs.security.signed_update_firmware(
                "CP1", request_id=3, firmware=firmware("https://fw.example.com/other.bin")
            )
        # Nothing but the good one was sent.
        assert [r.request_id for r in cp.received_of(SignedUpdateFirmwareRequest)] == [1]


def test_a_verifier_needs_roots() -> None:
    async def content(location: str) -> bytes | None:
        return None

    with pytest.raises(ValueError, match="at least one root"):
        FirmwareVerifier(roots=[], content=content)
    with pytest.raises(ValueError, match="not PEM"):
        FirmwareVerifier(roots=["garbage"], content=content)
