"""A demo ISO 15118-2 PKI for tests and examples (needs the ``pnc`` extra).

Every key is ECDSA P-256 and every signature SHA-256, as ISO 15118-2 requires. Fresh keys each
time: nothing here is a secret worth keeping, and nothing here is for production.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .pki import (
    CLOCK_SKEW,
    CertifiedKey,
    authority_information_access,
    build_csr,
    ca_key_usage,
    certificates_to_pem,
    leaf_key_usage,
    load_pem_certificates,
    sign_csr,
)

__all__ = ["DemoPki", "demo_emaid"]


# --- the demo PKI --------------------------------------------------------------------------


def demo_emaid(number: int) -> str:
    """A demo eMAID: ``ZZDMOC`` + 8 digits + ``X``, the 15-character form without separators.

    ``ZZ`` is an ISO 3166 user-assigned code, so no real provider has it; the last character
    stands where a real eMAID has its check digit, which is not computed.
    """
    if not 0 <= number < 10**8:
        raise ValueError("a demo eMAID number has at most 8 digits")
    return f"ZZDMOC{number:08d}X"


def _name_of(common_name: str, organization: str = "ocpp16csms demo") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )


def _issue(
    subject: x509.Name,
    issuer: CertifiedKey | None,
    *,
    now: datetime,
    lifetime: timedelta,
    ca: bool,
    path_length: int | None = None,
    ocsp_url: str | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> CertifiedKey:
    key = key or ec.generate_private_key(ec.SECP256R1())
    signer = issuer.private_key if issuer is not None else key
    issuer_name = issuer.certificate.subject if issuer is not None else subject
    not_after = now + lifetime
    if issuer is not None:
        not_after = min(not_after, issuer.certificate.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True
        )
        .add_extension(ca_key_usage() if ca else leaf_key_usage(key_agreement=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False,
        )
    )
    if issuer is not None:
        for extension in authority_information_access(ocsp_url):
            builder = builder.add_extension(extension, critical=False)
    return CertifiedKey(builder.sign(signer, hashes.SHA256()), key)


@attrs.frozen(kw_only=True)
class DemoPki:
    """A complete ISO 15118-2 style PKI for tests and demos, ECDSA P-256 / SHA-256 throughout.

    V2G root → CPO sub-CA 1 → CPO sub-CA 2 → SECC leaf (the charge point's V2G certificate);
    MO root → MO sub-CA 1 → MO sub-CA 2 → contract certificate (CN = eMAID); a CSMS root.
    Sub-CA 1 allows one CA below it, sub-CA 2 none. With ``ocsp_url`` every non-root
    certificate names that OCSP responder.
    """

    v2g_root: CertifiedKey
    cpo_sub_ca1: CertifiedKey
    cpo_sub_ca2: CertifiedKey
    secc: CertifiedKey
    mo_root: CertifiedKey
    mo_sub_ca1: CertifiedKey
    mo_sub_ca2: CertifiedKey
    contract: CertifiedKey
    csms_root: CertifiedKey
    ocsp_url: str | None = None

    @classmethod
    def generate(
        cls,
        *,
        now: datetime,
        emaid: str = demo_emaid(1),
        secc_common_name: str = "DEMO-SECC-1",
        ocsp_url: str | None = None,
        root_lifetime: timedelta = timedelta(days=3650),
        leaf_lifetime: timedelta = timedelta(days=365),
    ) -> DemoPki:
        """Make fresh keys and certificates, valid from (just before) ``now``."""

        def ca(name: str, issuer: CertifiedKey | None, depth: int | None) -> CertifiedKey:
            return _issue(
                _name_of(name),
                issuer,
                now=now,
                lifetime=root_lifetime,
                ca=True,
                path_length=depth,
                ocsp_url=ocsp_url,
            )

        v2g_root = ca("DEMO V2G Root CA", None, None)
        cpo_sub_ca1 = ca("DEMO CPO Sub-CA 1", v2g_root, 1)
        cpo_sub_ca2 = ca("DEMO CPO Sub-CA 2", cpo_sub_ca1, 0)
        mo_root = ca("DEMO MO Root CA", None, None)
        mo_sub_ca1 = ca("DEMO MO Sub-CA 1", mo_root, 1)
        mo_sub_ca2 = ca("DEMO MO Sub-CA 2", mo_sub_ca1, 0)
        csms_root = ca("DEMO CSMS Root CA", None, None)
        csr, secc_key = build_csr(secc_common_name, organization="ocpp16csms demo")
        secc_pem = sign_csr(csr, cpo_sub_ca2, now=now, validity=leaf_lifetime, ocsp_url=ocsp_url)
        secc = CertifiedKey(load_pem_certificates(secc_pem)[0], secc_key)
        contract = _issue(
            _name_of(emaid),
            mo_sub_ca2,
            now=now,
            lifetime=leaf_lifetime,
            ca=False,
            ocsp_url=ocsp_url,
        )
        return cls(
            v2g_root=v2g_root,
            cpo_sub_ca1=cpo_sub_ca1,
            cpo_sub_ca2=cpo_sub_ca2,
            secc=secc,
            mo_root=mo_root,
            mo_sub_ca1=mo_sub_ca1,
            mo_sub_ca2=mo_sub_ca2,
            contract=contract,
            csms_root=csms_root,
            ocsp_url=ocsp_url,
        )

    def issue_contract(
        self, emaid: str, *, now: datetime, lifetime: timedelta = timedelta(days=365)
    ) -> CertifiedKey:
        """A further contract certificate for ``emaid`` from MO sub-CA 2."""
        return _issue(
            _name_of(emaid),
            self.mo_sub_ca2,
            now=now,
            lifetime=lifetime,
            ca=False,
            ocsp_url=self.ocsp_url,
        )

    def contract_chain_pem(self, contract: CertifiedKey | None = None) -> str:
        """The contract chain as AuthorizeRequest ``certificate`` carries it: leaf, sub-CAs."""
        leaf = (contract or self.contract).certificate
        return certificates_to_pem([leaf, self.mo_sub_ca2.certificate, self.mo_sub_ca1.certificate])

    def secc_chain_pem(self) -> str:
        """The SECC chain as CertificateSigned carries it: leaf, CPO sub-CA 2, sub-CA 1."""
        return certificates_to_pem(
            [self.secc.certificate, self.cpo_sub_ca2.certificate, self.cpo_sub_ca1.certificate]
        )

    def sign_secc_csr(
        self,
        csr_pem: str | bytes,
        *,
        now: datetime,
        expected_common_name: str | None = None,
        validity: timedelta = timedelta(days=365),
    ) -> str:
        """Sign a charge point's V2G CSR with CPO sub-CA 2: the CertificateSigned chain."""
        return sign_csr(
            csr_pem,
            self.cpo_sub_ca2,
            now=now,
            chain=[self.cpo_sub_ca1.certificate],
            validity=validity,
            expected_common_name=expected_common_name,
            ocsp_url=self.ocsp_url,
        )

    def certificates(self) -> list[CertifiedKey]:
        """Every certificate of the PKI with its key (for an OCSP responder)."""
        return [
            self.v2g_root,
            self.cpo_sub_ca1,
            self.cpo_sub_ca2,
            self.secc,
            self.mo_root,
            self.mo_sub_ca1,
            self.mo_sub_ca2,
            self.contract,
            self.csms_root,
        ]
