"""Plug & Charge inbound, end to end: DataTransfer routing, Authorize against real contract
chains with a real OCSP exchange, GetCertificateStatus, Get15118EVCertificate, SignCertificate
(asyncio and trio)."""

from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta

import anyio
import attrs
import pytest
from cryptography import x509

from _pnc_helpers import EMAID, pnc_world
from harness import T0
from ocpp16csms.enums import DataTransferStatus
from ocpp16csms.messages import DataTransferRequest, DataTransferResponse
from ocpp16csms.profiles.plug_and_charge import (
    LEGACY_PNC_VENDOR_ID,
    PNC_VENDOR_ID,
    AuthorizationStatus,
    AuthorizeCertificateStatus,
    CertificateSigningUse,
    GenericStatus,
    GetCertificateStatus,
    Iso15118EVCertificateStatus,
    MessageTrigger,
    PncProviders,
)
from ocpp16csms.profiles.plug_and_charge.demo_pki import DemoPki
from ocpp16csms.profiles.plug_and_charge.ocsp import CertStatus, parse_ocsp_response
from ocpp16csms.profiles.plug_and_charge.pki import (
    build_csr,
    load_pem_certificates,
    ocsp_request_data,
    verify_chain,
)
from ocpp16csms.profiles.plug_and_charge.reference import PkiContractValidator

pytestmark = pytest.mark.anyio

LOGGER = "ocpp16csms.plug_and_charge"


async def _raw(
    world: object, message_id: str | None, data: str | None, vendor: str = PNC_VENDOR_ID
):
    sim = world.sim  # type: ignore[attr-defined]
    return await sim.call(DataTransferRequest(vendor_id=vendor, message_id=message_id, data=data))


# --- routing ---------------------------------------------------------------------------------


async def test_routing_answers_each_broken_transfer_with_its_status(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    async with pnc_world() as world:
        # A known vendorId with a messageId that is not one a charge point sends.
        for message_id in ("Bogus", "CertificateSigned", None):
            answer = await _raw(world, message_id, "{}")
            assert answer.status is DataTransferStatus.UNKNOWN_MESSAGE_ID, message_id
            assert answer.data is None
        assert (await _raw(world, "Authorize", "{}", "acme")).status is (
            DataTransferStatus.UNKNOWN_VENDOR_ID
        )
        caplog.clear()
        not_json = await _raw(world, "Authorize", "{not json")
        assert (not_json.status, not_json.data) == (DataTransferStatus.REJECTED, None)
        assert any("PncDataNotJson" in r.getMessage() for r in caplog.records)
        caplog.clear()
        broken = await _raw(world, "Authorize", json.dumps({"idToken": {"type": "eMAID"}}))
        assert broken.status is DataTransferStatus.REJECTED
        [record] = [r for r in caplog.records if r.name == LOGGER]
        assert "schema keyword 'required'" in record.getMessage()
        assert record.charge_point_id == "CP1"  # type: ignore[attr-defined]
        assert record.message_id  # type: ignore[attr-defined]
        caplog.clear()
        wrong_enum = {"idToken": {"idToken": EMAID, "type": "Car"}}
        assert (await _raw(world, "Authorize", json.dumps(wrong_enum))).status is (
            DataTransferStatus.REJECTED
        )
        assert "schema keyword 'enum'" in caplog.records[-1].getMessage()


async def test_the_legacy_vendor_id_is_served_and_used_back() -> None:
    async with pnc_world() as world:
        request = {"idToken": {"idToken": EMAID, "type": "eMAID"}}
        answer = await _raw(world, "Authorize", json.dumps(request), LEGACY_PNC_VENDOR_ID)
        assert answer.status is DataTransferStatus.ACCEPTED
        assert json.loads(answer.data or "") == {"idTokenInfo": {"status": "Accepted"}}
        # What we send to that charge point from now on uses its vendorId.
        await world.cs.plug_and_charge.get_installed_certificate_ids("CP1")
        sent = world.sim.received_of(DataTransferRequest)
        assert [r.vendor_id for r in sent] == [LEGACY_PNC_VENDOR_ID]


# --- Authorize -------------------------------------------------------------------------------


async def test_a_valid_contract_is_accepted_until_the_ocsp_answer_ends() -> None:
    async with pnc_world() as world:
        answer = await world.cp.authorize(EMAID, certificate=world.pki.contract_chain_pem())
        assert answer.certificate_status is AuthorizeCertificateStatus.ACCEPTED
        assert answer.id_token_info.status is AuthorizationStatus.ACCEPTED
        assert answer.id_token_info.cache_expiry_date_time == T0 + timedelta(hours=1)
        # Leaf, sub-CA 2 and sub-CA 1 were each asked about once.
        assert world.responder.requests == 3


async def test_the_emaid_must_be_known_and_match_the_certificate() -> None:
    async with pnc_world() as world:
        stranger = world.pki.issue_contract("DEMO-EMAID-2", now=T0)
        world.responder.add(certificates=[stranger.certificate])
        unknown = await world.cp.authorize(
            "DEMO-EMAID-2", certificate=world.pki.contract_chain_pem(stranger)
        )
        assert unknown.certificate_status is AuthorizeCertificateStatus.ACCEPTED
        assert unknown.id_token_info.status is AuthorizationStatus.UNKNOWN
        # Hyphens and case do not matter; another eMAID does.
        same = await world.cp.authorize("demoemaid1", certificate=world.pki.contract_chain_pem())
        assert same.certificate_status is AuthorizeCertificateStatus.ACCEPTED
        other = await world.cp.authorize(EMAID, certificate=world.pki.contract_chain_pem(stranger))
        assert other.certificate_status is AuthorizeCertificateStatus.CERT_CHAIN_ERROR
        assert other.id_token_info.status is AuthorizationStatus.INVALID


async def test_a_revoked_contract_is_refused_and_cached_as_such() -> None:
    async with pnc_world() as world:
        world.responder.revoke(world.pki.contract.certificate, at=T0 - timedelta(days=1))
        answer = await world.cp.authorize(EMAID, certificate=world.pki.contract_chain_pem())
        assert answer.certificate_status is AuthorizeCertificateStatus.CERTIFICATE_REVOKED
        assert answer.id_token_info.status is AuthorizationStatus.INVALID
        asked = world.responder.requests
        await world.cp.authorize(EMAID, certificate=world.pki.contract_chain_pem())
        assert world.responder.requests == asked


async def test_an_accepted_verdict_is_cached_until_the_ocsp_next_update() -> None:
    async with pnc_world() as world:
        chain = world.pki.contract_chain_pem()
        assert (await world.cp.authorize(EMAID, certificate=chain)).certificate_status is (
            AuthorizeCertificateStatus.ACCEPTED
        )
        world.responder.revoke(world.pki.contract.certificate, at=T0)
        world.clock.advance(59 * 60)
        cached = await world.cp.authorize(EMAID, certificate=chain)
        assert cached.certificate_status is AuthorizeCertificateStatus.ACCEPTED
        assert world.responder.requests == 3
        world.clock.advance(60)
        fresh = await world.cp.authorize(EMAID, certificate=chain)
        assert fresh.certificate_status is AuthorizeCertificateStatus.CERTIFICATE_REVOKED


async def test_chain_problems_give_their_certificate_status() -> None:
    async with pnc_world() as world:
        other = DemoPki.generate(now=T0, emaid=EMAID)
        foreign = await world.cp.authorize(EMAID, certificate=other.contract_chain_pem())
        assert foreign.certificate_status is AuthorizeCertificateStatus.CERT_CHAIN_ERROR
        short = world.pki.issue_contract(EMAID, now=T0, lifetime=timedelta(minutes=10))
        world.clock.advance(3600)
        expired = await world.cp.authorize(EMAID, certificate=world.pki.contract_chain_pem(short))
        assert expired.certificate_status is AuthorizeCertificateStatus.CERTIFICATE_EXPIRED
        assert expired.id_token_info.status is AuthorizationStatus.INVALID


async def test_ocsp_data_instead_of_the_chain() -> None:
    async with pnc_world() as world:
        pki = world.pki
        data = [
            ocsp_request_data(pki.contract.certificate, pki.mo_sub_ca2.certificate),
            ocsp_request_data(pki.mo_sub_ca2.certificate, pki.mo_sub_ca1.certificate),
            ocsp_request_data(pki.mo_sub_ca1.certificate, pki.mo_root.certificate),
        ]
        answer = await world.cp.authorize(EMAID, hash_data=data)
        assert answer.certificate_status is AuthorizeCertificateStatus.ACCEPTED
        assert answer.id_token_info.status is AuthorizationStatus.ACCEPTED
        # Data that never reaches a trusted MO root is refused before any OCSP request.
        asked = world.responder.requests
        other = DemoPki.generate(now=T0, ocsp_url=world.url)
        foreign = [ocsp_request_data(other.contract.certificate, other.mo_sub_ca2.certificate)]
        refused = await world.cp.authorize(EMAID, hash_data=foreign)
        assert refused.certificate_status is AuthorizeCertificateStatus.CERT_CHAIN_ERROR
        assert world.responder.requests == asked
        world.responder.revoke(pki.mo_sub_ca2.certificate, at=T0)
        validator = world.cs.plug_and_charge.providers.contract_validator
        assert isinstance(validator, PkiContractValidator)
        # Both caches hold the good answer until the OCSP nextUpdate; forget them.
        validator.clear_cache()
        assert validator.ocsp is not None
        validator.ocsp.forget(data[1])
        revoked = await world.cp.authorize(EMAID, hash_data=data)
        assert revoked.certificate_status is AuthorizeCertificateStatus.CERTIFICATE_REVOKED


async def test_without_an_ocsp_answer_the_contract_fails_unless_soft_fail() -> None:
    async with pnc_world() as world:
        pki = DemoPki.generate(now=T0, emaid=EMAID, ocsp_url="http://127.0.0.1:9/")
        validator = PkiContractValidator([pki.mo_root.certificate], ocsp=None)
        world.cs.plug_and_charge.providers = PncProviders(contract_validator=validator)
        chain = pki.contract_chain_pem()
        hard = await world.cp.authorize(EMAID, certificate=chain)
        assert hard.certificate_status is AuthorizeCertificateStatus.CERT_CHAIN_ERROR
        validator.soft_fail = True
        soft = await world.cp.authorize(EMAID, certificate=chain)
        assert soft.certificate_status is AuthorizeCertificateStatus.ACCEPTED
        assert soft.id_token_info.cache_expiry_date_time == T0 + timedelta(hours=1)


async def test_without_a_validator_a_contract_is_never_accepted() -> None:
    async with pnc_world(providers=False) as world:
        answer = await world.cp.authorize(EMAID, certificate=world.pki.contract_chain_pem())
        assert answer.certificate_status is AuthorizeCertificateStatus.CERT_CHAIN_ERROR
        assert answer.id_token_info.status is AuthorizationStatus.INVALID
        # Without contract data only the eMAID is looked at (locally validated contracts).
        plain = await world.cp.authorize(EMAID)
        assert plain.certificate_status is None
        assert plain.id_token_info.status is AuthorizationStatus.ACCEPTED
        assert (await world.cp.authorize("NOBODY")).id_token_info.status is (
            AuthorizationStatus.UNKNOWN
        )


# --- GetCertificateStatus and Get15118EVCertificate ------------------------------------------


async def test_get_certificate_status_forwards_the_ocsp_response() -> None:
    async with pnc_world() as world:
        pki = world.pki
        data = ocsp_request_data(pki.secc.certificate, pki.cpo_sub_ca2.certificate)
        answer = await world.cp.get_certificate_status(data)
        assert answer.status is GetCertificateStatus.ACCEPTED
        assert answer.ocsp_result is not None
        parsed = parse_ocsp_response(
            answer.ocsp_result, expected=data, trusted_issuers=[pki.cpo_sub_ca2.certificate]
        )
        assert parsed.status is CertStatus.GOOD
        nowhere = attrs.evolve(data, responder_url="http://127.0.0.1:9/")
        world.cs.plug_and_charge.providers.certificate_status.client.forget(data)  # type: ignore[union-attr]
        failed = await world.cp.get_certificate_status(nowhere)
        assert failed.status is GetCertificateStatus.FAILED
        assert failed.status_info is not None
        assert failed.status_info.reason_code == "OcspFailed"
        assert failed.ocsp_result is None


def _der_certificates(data: bytes) -> list[x509.Certificate]:
    """Certificates written one after the other in DER."""
    found, at = [], 0
    while at < len(data):
        first = data[at + 1]
        size, head = (first, 2) if first < 0x80 else (0, 2 + (first & 0x7F))
        if first >= 0x80:
            size = int.from_bytes(data[at + 2 : at + head], "big")
        found.append(x509.load_der_x509_certificate(data[at : at + head + size]))
        at += head + size
    return found


async def test_get_15118_ev_certificate_passes_the_exi_through() -> None:
    async with pnc_world() as world:
        seen: list[bytes] = []
        provider = world.cs.plug_and_charge.providers.contract_certificates
        assert provider is not None

        class Spy:
            async def exi_response(
                self, charge_point_id: str, request: object, exi: bytes
            ) -> bytes | None:
                seen.append(exi)
                return await provider.exi_response(charge_point_id, request, exi)  # type: ignore[arg-type]

        world.cs.plug_and_charge.providers = attrs.evolve(
            world.cs.plug_and_charge.providers, contract_certificates=Spy()
        )
        answer = await world.cp.get_15118_ev_certificate(b"\x80\x98\x02exi-request")
        assert seen == [b"\x80\x98\x02exi-request"]
        assert answer.status is Iso15118EVCertificateStatus.ACCEPTED
        # The demo provider's "EXI" is a DER contract chain for the demo eMAID.
        chain = _der_certificates(base64.b64decode(answer.exi_response, validate=True))
        verified = verify_chain(chain, [world.pki.mo_root.certificate], now=T0)
        assert EMAID in verified.leaf.subject.rfc4514_string()


async def test_get_15118_ev_certificate_failures_answer_failed() -> None:
    async with pnc_world(providers=False) as world:
        nothing = await world.cp.get_15118_ev_certificate(b"exi")
        assert nothing.status is Iso15118EVCertificateStatus.FAILED
        assert nothing.exi_response == ""

        class Broken:
            async def exi_response(
                self, charge_point_id: str, request: object, exi: bytes
            ) -> bytes:
                raise ConnectionError("the pool is down")

        world.cs.plug_and_charge.providers = PncProviders(contract_certificates=Broken())
        down = await world.cp.get_15118_ev_certificate(b"exi")
        assert down.status is Iso15118EVCertificateStatus.FAILED
        assert down.status_info is not None
        assert down.status_info.reason_code == "ProviderFailed"
        answer = await _raw(
            world,
            "Get15118EVCertificate",
            json.dumps({"iso15118SchemaVersion": "x", "action": "Install", "exiRequest": "@@"}),
        )
        assert answer.status is DataTransferStatus.ACCEPTED
        assert json.loads(answer.data or "")["statusInfo"]["reasonCode"] == "InvalidEXI"


# --- SignCertificate -------------------------------------------------------------------------


async def test_a_csr_is_answered_then_signed_from_the_demo_v2g_root() -> None:
    async with pnc_world() as world:
        accepted = await world.cp.sign_certificate()
        assert accepted.status is GenericStatus.ACCEPTED
        chain = await world.cp.wait_signed()
        certificates = load_pem_certificates(chain)
        verified = verify_chain(certificates, [world.pki.v2g_root.certificate], now=T0)
        assert verified.root == world.pki.v2g_root.certificate
        assert certificates[0].public_key() == world.cp.v2g_key.public_key()
        # The charge point accepted; the central system keeps it once the answer is back.
        with anyio.fail_after(5):
            while (stored := await world.cs.plug_and_charge.v2g_certificate("CP1")) is None:
                await anyio.sleep(0.005)
        assert stored.not_after == certificates[0].not_valid_after_utc
        assert await world.cs.plug_and_charge.signing_requests("CP1") == []


async def test_csrs_that_cannot_be_signed_are_rejected_up_front() -> None:
    async with pnc_world() as world:
        not_pem = await world.cp.sign_certificate("a CSR, trust me")
        assert not_pem.status is GenericStatus.REJECTED
        assert not_pem.status_info is not None
        assert not_pem.status_info.reason_code == "InvalidCSR"
        csr, _ = build_csr("CP1")
        station = await world.cp.sign_certificate(
            csr, certificate_type=CertificateSigningUse.CHARGING_STATION_CERTIFICATE
        )
        assert station.status is GenericStatus.REJECTED
        world.cs.plug_and_charge.providers = PncProviders()
        no_signer = await world.cp.sign_certificate(csr)
        assert no_signer.status is GenericStatus.REJECTED
        await anyio.sleep(0.05)
        assert world.cp.received == []
        assert await world.cs.plug_and_charge.signing_requests("CP1") == []


async def test_a_csr_the_signer_refuses_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    async with pnc_world() as world:
        # A P-384 key: ISO 15118-2 wants P-256, so the reference signer refuses it.
        from cryptography.hazmat.primitives.asymmetric import ec

        csr, _ = build_csr("CP1", key=ec.generate_private_key(ec.SECP384R1()))
        assert (await world.cp.sign_certificate(csr)).status is GenericStatus.ACCEPTED
        with anyio.fail_after(5):
            while await world.cs.plug_and_charge.signing_requests("CP1"):
                await anyio.sleep(0.005)
        assert world.cp.received == []
        assert any("secp256r1" in r.getMessage() for r in caplog.records)


# --- composition -----------------------------------------------------------------------------


def test_providers_refuse_an_object_without_the_seams_method() -> None:
    with pytest.raises(TypeError, match="v2g_signer"):
        PncProviders(v2g_signer=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="contract_validator"):
        PncProviders(contract_validator=lambda *args: None)  # type: ignore[arg-type]


async def test_a_host_handler_for_one_message_id_wins_over_the_service() -> None:
    async with pnc_world() as world:

        @world.cs.core.data_transfer_handler(PNC_VENDOR_ID, "Authorize")
        async def mine(request: DataTransferRequest, ctx: object) -> DataTransferResponse:
            return DataTransferResponse(status=DataTransferStatus.REJECTED, data="mine")

        request = {"idToken": {"idToken": EMAID, "type": "eMAID"}}
        answer = await _raw(world, "Authorize", json.dumps(request))
        assert (answer.status, answer.data) == (DataTransferStatus.REJECTED, "mine")
        # The service still serves the other messageIds.
        assert (await world.cp.sign_certificate()).status is GenericStatus.ACCEPTED


async def test_without_the_feature_plug_and_charge_is_an_unknown_vendor() -> None:
    from harness import connected, make_central_system
    from ocpp16csms import FeatureNotEnabled, Profile

    features = [p for p in Profile if p is not Profile.PLUG_AND_CHARGE]
    cs = make_central_system()
    plain = type(cs)(cs.stores, cs.options, features=features)
    with pytest.raises(FeatureNotEnabled):
        plain.plug_and_charge  # noqa: B018
    async with plain, connected(plain) as sim:
        answer = await sim.call(
            DataTransferRequest(vendor_id=PNC_VENDOR_ID, message_id="Authorize", data="{}")
        )
        assert answer.status is DataTransferStatus.UNKNOWN_VENDOR_ID


async def test_observers_see_an_inbound_data_transfer_as_sent_by_the_charge_point() -> None:
    from ocpp16csms import Exchange
    from ocpp16csms.messages import Direction

    async with pnc_world() as world:
        seen: list[Exchange] = []
        world.cs.observe(lambda event: seen.append(event) if isinstance(event, Exchange) else None)
        await world.cp.authorize(EMAID)
        await world.cs.plug_and_charge.trigger_message("CP1", MessageTrigger.HEARTBEAT)
        assert [(e.request.message_id, e.direction) for e in seen] == [  # type: ignore[attr-defined]
            ("Authorize", Direction.CHARGE_POINT_TO_CENTRAL_SYSTEM),
            ("TriggerMessage", Direction.CENTRAL_SYSTEM_TO_CHARGE_POINT),
        ]
