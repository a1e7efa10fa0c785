"""Plug & Charge certificates: chain verification, CSR signing, CertificateHashData."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from hypothesis import given
from hypothesis import strategies as st

from ocpp16csms.enums import HashAlgorithm
from ocpp16csms.profiles.plug_and_charge import (
    AuthorizeCertificateStatus,
    CertificateHashData,
    PncCodec,
)
from ocpp16csms.profiles.plug_and_charge.demo_pki import DemoPki, demo_emaid
from ocpp16csms.profiles.plug_and_charge.pki import (
    CertificateChainError,
    CertifiedKey,
    ChainProblem,
    CsrError,
    build_csr,
    ca_key_usage,
    certificate_hash_data,
    certificates_to_pem,
    hash_function,
    load_pem_certificates,
    ocsp_request_data,
    ocsp_responder_url,
    same_certificate,
    sign_csr,
    verify_chain,
    verify_contract_chain,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki() -> DemoPki:
    return DemoPki.generate(now=NOW, ocsp_url="http://127.0.0.1:9/ocsp")


@pytest.fixture(scope="module")
def other() -> DemoPki:
    return DemoPki.generate(now=NOW)


def _problem(call: object, problem: ChainProblem, status: AuthorizeCertificateStatus) -> None:
    assert isinstance(call, CertificateChainError)
    assert call.problem is problem
    assert call.authorize_status is status


def _issue(
    subject: str,
    issuer: CertifiedKey,
    *,
    ca: bool,
    path_length: int | None = None,
    serial: int | None = None,
) -> CertifiedKey:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
    )
    if ca:
        builder = builder.add_extension(ca_key_usage(), critical=True)
    return CertifiedKey(builder.sign(issuer.private_key, hashes.SHA256()), key)


# --- the contract chain --------------------------------------------------------------------


def test_the_demo_contract_chain_verifies_to_the_mo_root(pki: DemoPki) -> None:
    verified = verify_contract_chain(pki.contract_chain_pem(), [pki.mo_root.certificate], now=NOW)
    assert verified.emaid == demo_emaid(1) == "ZZDMOC00000001X"
    assert verified.chain.leaf == pki.contract.certificate
    assert verified.chain.intermediates == (pki.mo_sub_ca2.certificate, pki.mo_sub_ca1.certificate)
    assert verified.chain.root == pki.mo_root.certificate
    # Fits AuthorizeRequest.certificate (at most 5500 characters).
    assert len(pki.contract_chain_pem()) <= 5500


def test_order_after_the_leaf_and_an_included_root_do_not_matter(pki: DemoPki) -> None:
    shuffled = certificates_to_pem(
        [
            pki.contract.certificate,
            pki.mo_root.certificate,
            pki.mo_sub_ca1.certificate,
            pki.v2g_root.certificate,  # unrelated, ignored
            pki.mo_sub_ca2.certificate,
        ]
    )
    verified = verify_contract_chain(
        shuffled, [pki.v2g_root.certificate, pki.mo_root.certificate], now=NOW
    )
    assert verified.chain.intermediates == (pki.mo_sub_ca2.certificate, pki.mo_sub_ca1.certificate)


def test_a_tampered_signature_is_a_signature_error(pki: DemoPki) -> None:
    der = bytearray(pki.contract.certificate.public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature value
    tampered = x509.load_der_x509_certificate(bytes(der))
    chain = [tampered, pki.mo_sub_ca2.certificate, pki.mo_sub_ca1.certificate]
    with pytest.raises(CertificateChainError) as caught:
        verify_contract_chain(chain, [pki.mo_root.certificate], now=NOW)
    _problem(caught.value, ChainProblem.SIGNATURE, AuthorizeCertificateStatus.SIGNATURE_ERROR)


def test_a_forged_leaf_with_the_right_names_is_a_signature_error(pki: DemoPki) -> None:
    impostor = CertifiedKey(pki.mo_sub_ca2.certificate, ec.generate_private_key(ec.SECP256R1()))
    forged = _issue(demo_emaid(1), impostor, ca=False)
    chain = [forged.certificate, pki.mo_sub_ca2.certificate, pki.mo_sub_ca1.certificate]
    with pytest.raises(CertificateChainError) as caught:
        verify_contract_chain(chain, [pki.mo_root.certificate], now=NOW)
    _problem(caught.value, ChainProblem.SIGNATURE, AuthorizeCertificateStatus.SIGNATURE_ERROR)


@pytest.mark.parametrize(
    ("when", "problem"),
    [
        (NOW + timedelta(days=366), ChainProblem.EXPIRED),
        (NOW - timedelta(days=1), ChainProblem.NOT_YET_VALID),
        (NOW + timedelta(days=3651), ChainProblem.EXPIRED),
    ],
)
def test_outside_the_validity_period_is_certificate_expired(
    pki: DemoPki, when: datetime, problem: ChainProblem
) -> None:
    with pytest.raises(CertificateChainError) as caught:
        verify_contract_chain(pki.contract_chain_pem(), [pki.mo_root.certificate], now=when)
    _problem(caught.value, problem, AuthorizeCertificateStatus.CERTIFICATE_EXPIRED)
    # Still valid on the last second of the leaf.
    last = pki.contract.certificate.not_valid_after_utc
    verify_contract_chain(pki.contract_chain_pem(), [pki.mo_root.certificate], now=last)


def test_a_foreign_or_incomplete_chain_is_a_chain_error(pki: DemoPki, other: DemoPki) -> None:
    for chain in (other.contract_chain_pem(), pki.contract.certificate_pem()):
        with pytest.raises(CertificateChainError) as caught:
            verify_contract_chain(chain, [pki.mo_root.certificate], now=NOW)
        _problem(caught.value, ChainProblem.UNTRUSTED, AuthorizeCertificateStatus.CERT_CHAIN_ERROR)
    # The V2G root does not vouch for contracts.
    with pytest.raises(CertificateChainError):
        verify_contract_chain(pki.contract_chain_pem(), [pki.v2g_root.certificate], now=NOW)


def test_issuers_must_be_cas_within_their_path_length(pki: DemoPki) -> None:
    by_a_leaf = _issue("ZZDMOC00000009X", pki.contract, ca=False)
    chain = [
        by_a_leaf.certificate,
        pki.contract.certificate,
        pki.mo_sub_ca2.certificate,
        pki.mo_sub_ca1.certificate,
    ]
    with pytest.raises(CertificateChainError) as caught:
        verify_chain(chain, [pki.mo_root.certificate], now=NOW)
    _problem(caught.value, ChainProblem.NOT_A_CA, AuthorizeCertificateStatus.CERT_CHAIN_ERROR)

    too_deep = _issue("DEMO MO Sub-CA 3", pki.mo_sub_ca2, ca=True, path_length=0)
    leaf = _issue("ZZDMOC00000008X", too_deep, ca=False)
    chain = [
        leaf.certificate,
        too_deep.certificate,
        pki.mo_sub_ca2.certificate,
        pki.mo_sub_ca1.certificate,
    ]
    with pytest.raises(CertificateChainError) as caught:
        verify_chain(chain, [pki.mo_root.certificate], now=NOW)
    _problem(caught.value, ChainProblem.PATH_LENGTH, AuthorizeCertificateStatus.CERT_CHAIN_ERROR)
    assert "Sub-CA 2" in str(caught.value.subject)


def test_a_ca_as_leaf_and_unreadable_input_are_refused(pki: DemoPki) -> None:
    with pytest.raises(CertificateChainError) as caught:
        verify_chain([pki.mo_sub_ca2.certificate], [pki.mo_root.certificate], now=NOW)
    assert caught.value.problem is ChainProblem.LEAF_IS_CA
    for text in (
        "",
        "hello",
        "\ud800é",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ):
        with pytest.raises(CertificateChainError) as caught:
            verify_contract_chain(text, [pki.mo_root.certificate], now=NOW)
        _problem(caught.value, ChainProblem.MALFORMED, AuthorizeCertificateStatus.CERT_CHAIN_ERROR)
    with pytest.raises(CertificateChainError) as caught:
        verify_chain([], [pki.mo_root.certificate], now=NOW)
    _problem(caught.value, ChainProblem.EMPTY, AuthorizeCertificateStatus.NO_CERTIFICATE_AVAILABLE)


def test_a_further_contract_for_another_emaid(pki: DemoPki) -> None:
    contract = pki.issue_contract(demo_emaid(42), now=NOW)
    verified = verify_contract_chain(
        pki.contract_chain_pem(contract), [pki.mo_root.certificate], now=NOW
    )
    assert verified.emaid == "ZZDMOC00000042X"
    with pytest.raises(ValueError, match="8 digits"):
        demo_emaid(10**8)


# --- CSR signing ---------------------------------------------------------------------------


def test_a_signed_csr_carries_its_key_and_verifies_to_the_v2g_root(pki: DemoPki) -> None:
    csr, key = build_csr("CP-0042", organization="Demo CPO")
    chain_pem = pki.sign_secc_csr(csr, now=NOW, expected_common_name="CP-0042")
    chain = load_pem_certificates(chain_pem)
    assert [c.subject for c in chain[1:]] == [
        pki.cpo_sub_ca2.certificate.subject,
        pki.cpo_sub_ca1.certificate.subject,
    ]
    leaf = chain[0]
    assert leaf.public_key() == key.public_key()
    assert leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "CP-0042"
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert ocsp_responder_url(leaf) == pki.ocsp_url
    verified = verify_chain(chain_pem, [pki.v2g_root.certificate], now=NOW)
    assert verified.leaf == leaf
    assert len(verified.intermediates) == 2
    # Fits CertificateSignedRequest.certificateChain (at most 10000 characters).
    assert len(chain_pem) <= 10000
    # And the whole exchange goes through the codec.
    from ocpp16csms.profiles.plug_and_charge import CertificateSignedRequest, CertificateSigningUse

    PncCodec().encode_request(
        CertificateSignedRequest(
            certificate_chain=chain_pem, certificate_type=CertificateSigningUse.V2G_CERTIFICATE
        )
    )


def test_the_signed_leaf_ends_no_later_than_its_issuer(pki: DemoPki) -> None:
    csr, _ = build_csr("CP-1")
    chain_pem = pki.sign_secc_csr(csr, now=NOW, validity=timedelta(days=100_000))
    assert (
        load_pem_certificates(chain_pem)[0].not_valid_after_utc
        == pki.cpo_sub_ca2.certificate.not_valid_after_utc
    )


def _csr_with(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, cn: str = "CP-1") -> str:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def test_bad_csrs_raise_csr_error(pki: DemoPki) -> None:
    good, _ = build_csr("CP-1")
    der = bytearray(x509.load_pem_x509_csr(good.encode()).public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0x01  # inside the signature
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()
    cases = {
        "not a PEM": "hello \ud800",
        "does not verify": tampered,
        "secp256r1": _csr_with(ec.generate_private_key(ec.SECP384R1())),
        "secp256r1 ": _csr_with(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    }
    for reason, csr in cases.items():
        with pytest.raises(CsrError, match=reason.strip()):
            pki.sign_secc_csr(csr, now=NOW)
    with pytest.raises(CsrError, match="expected 'CP-2'"):
        pki.sign_secc_csr(good, now=NOW, expected_common_name="CP-2")
    with pytest.raises(CsrError):
        sign_csr(b"\xff\xfe", pki.cpo_sub_ca2, now=NOW)


# --- CertificateHashData -------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", list(HashAlgorithm))
def test_hash_data_matches_an_ocsp_cert_id_built_by_cryptography(
    pki: DemoPki, algorithm: HashAlgorithm
) -> None:
    for leaf, issuer in [
        (pki.contract, pki.mo_sub_ca2),
        (pki.secc, pki.cpo_sub_ca2),
        (pki.mo_root, pki.mo_root),
    ]:
        data = certificate_hash_data(leaf.certificate, issuer.certificate, algorithm)
        reference = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(leaf.certificate, issuer.certificate, hash_function(algorithm))
            .build()
        )
        assert data.hash_algorithm is algorithm
        assert data.issuer_name_hash == reference.issuer_name_hash.hex()
        assert data.issuer_key_hash == reference.issuer_key_hash.hex()
        assert int(data.serial_number, 16) == reference.serial_number
        # For an EC key the hashed bits are the uncompressed point (X9.62).
        point = issuer.certificate.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        digest = hashes.Hash(hash_function(algorithm))
        digest.update(point)
        assert data.issuer_key_hash == digest.finalize().hex()
        assert len(data.issuer_name_hash) <= 128


@given(serial=st.integers(1, 2**159 - 1))
def test_serial_numbers_are_lowercase_hex_without_leading_zeros(pki: DemoPki, serial: int) -> None:
    leaf = _issue("x", pki.mo_sub_ca2, ca=False, serial=serial)
    data = certificate_hash_data(leaf.certificate, pki.mo_sub_ca2.certificate)
    assert data.serial_number == data.serial_number.lower()
    assert not data.serial_number.startswith("0")
    assert int(data.serial_number, 16) == serial
    assert len(data.serial_number) <= 40


def test_same_certificate_ignores_case_and_leading_zeros(pki: DemoPki) -> None:
    small = _issue("x", pki.mo_sub_ca2, ca=False, serial=0xABC)
    data = certificate_hash_data(small.certificate, pki.mo_sub_ca2.certificate)
    assert data.serial_number == "abc"
    shouting = CertificateHashData(
        hash_algorithm=data.hash_algorithm,
        issuer_name_hash=data.issuer_name_hash.upper(),
        issuer_key_hash=data.issuer_key_hash.upper(),
        serial_number="000ABC",
    )
    assert same_certificate(data, shouting)
    contract = certificate_hash_data(pki.contract.certificate, pki.mo_sub_ca2.certificate)
    assert same_certificate(
        contract, ocsp_request_data(pki.contract.certificate, pki.mo_sub_ca2.certificate)
    )
    assert not same_certificate(data, contract)
    sha384 = certificate_hash_data(
        small.certificate, pki.mo_sub_ca2.certificate, HashAlgorithm.SHA384
    )
    assert not same_certificate(data, sha384)


def test_ocsp_request_data_takes_the_responder_from_the_certificate(
    pki: DemoPki, other: DemoPki
) -> None:
    data = ocsp_request_data(pki.contract.certificate, pki.mo_sub_ca2.certificate)
    assert data.responder_url == "http://127.0.0.1:9/ocsp"
    with pytest.raises(ValueError, match="responder_url"):
        ocsp_request_data(other.contract.certificate, other.mo_sub_ca2.certificate)
    given_url = ocsp_request_data(
        other.contract.certificate, other.mo_sub_ca2.certificate, responder_url="http://o/"
    )
    assert given_url.responder_url == "http://o/"


@given(
    text=st.text(max_size=200)
    | st.binary(max_size=200).map(
        lambda b: "-----BEGIN CERTIFICATE-----\n" + b.hex() + "\n-----END CERTIFICATE-----\n"
    )
)
def test_any_text_is_a_chain_or_a_chain_error(pki: DemoPki, text: str) -> None:
    with pytest.raises(CertificateChainError):
        verify_contract_chain(text, [pki.mo_root.certificate], now=NOW)
    with pytest.raises(CsrError):
        pki.sign_secc_csr(text.replace("CERTIFICATE", "CERTIFICATE REQUEST"), now=NOW)
