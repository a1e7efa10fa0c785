"""Plug & Charge outbound, end to end: the five typed operations, the certificate state they
keep, signing retries, renewal ahead of expiry, the configuration keys (asyncio and trio)."""

from __future__ import annotations

import contextlib
import tempfile
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from _pnc_helpers import pnc_world, wait_delivered
from harness import T0
from ocpp16csms import ChargePointRecord, InvalidRequest, StoreError, Stores
from ocpp16csms.datatypes import KeyValue
from ocpp16csms.engine import CentralSystemOptions
from ocpp16csms.enums import ConfigurationStatus, DataTransferStatus, RegistrationStatus
from ocpp16csms.messages import (
    ChangeConfigurationRequest,
    DataTransferRequest,
    DataTransferResponse,
    GetConfigurationRequest,
)
from ocpp16csms.profiles.plug_and_charge import (
    RENEWAL_CHECK_INTERVAL,
    CertificateSignedResponse,
    CertificateSignedStatus,
    DeleteCertificateStatus,
    GenericStatus,
    GetCertificateIdUse,
    GetInstalledCertificateIdsRequest,
    GetInstalledCertificateStatus,
    InstallCertificateStatus,
    InstallCertificateUse,
    MessageTrigger,
    PlugAndChargeService,
    PncCallRejected,
    PncConfiguration,
    PncSettings,
    TriggerMessageRequest,
    TriggerMessageResponse,
    TriggerMessageStatus,
    V2GCertificateState,
)
from ocpp16csms.profiles.plug_and_charge.errors import PncSchemaViolation
from ocpp16csms.profiles.plug_and_charge.pki import certificate_hash_data
from ocpp16csms.stores.sqlite import sqlite_stores

pytestmark = pytest.mark.anyio


# --- the five operations and the state they keep ---------------------------------------------


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_certificate_state_follows_the_acknowledged_operations(backend: str) -> None:
    with contextlib.ExitStack() as stack:
        stores = None
        if backend == "sqlite":
            directory = stack.enter_context(tempfile.TemporaryDirectory())
            stores = sqlite_stores(Path(directory) / "csms.sqlite3")
            stack.callback(stores.close)
            await stores.charge_points.save(
                ChargePointRecord(
                    charge_point_id="CP1", registration_status=RegistrationStatus.ACCEPTED
                )
            )
        async with pnc_world(stores=stores) as world:
            pnc, pki = world.cs.plug_and_charge, world.pki
            root_pem = pki.v2g_root.certificate_pem()
            installed = await pnc.install_certificate(
                "CP1", InstallCertificateUse.V2G_ROOT_CERTIFICATE, root_pem
            )
            assert installed.status is InstallCertificateStatus.ACCEPTED
            [kept] = await pnc.installed_certificates("CP1")
            root_hash = certificate_hash_data(pki.v2g_root.certificate, pki.v2g_root.certificate)
            assert kept.hash_data == root_hash
            assert kept.certificate == root_pem
            assert kept.certificate_type is GetCertificateIdUse.V2G_ROOT_CERTIFICATE

            await world.cp.sign_certificate()
            await wait_delivered(world)
            world.cp.installed.clear()  # the charge point lost its roots (a factory reset)
            listed = await pnc.get_installed_certificate_ids("CP1")
            assert listed.status is GetInstalledCertificateStatus.ACCEPTED
            [chain] = await pnc.installed_certificates("CP1")
            assert chain.certificate_type is GetCertificateIdUse.V2G_CERTIFICATE_CHAIN
            assert len(chain.child_hash_data) == 1

            world.cp.installed.clear()
            await pnc.install_certificate(
                "CP1", InstallCertificateUse.MO_ROOT_CERTIFICATE, pki.mo_root.certificate_pem()
            )
            mo_hash = certificate_hash_data(pki.mo_root.certificate, pki.mo_root.certificate)
            deleted = await pnc.delete_certificate("CP1", mo_hash)
            assert deleted.status is DeleteCertificateStatus.ACCEPTED
            assert [c.certificate_type for c in await pnc.installed_certificates("CP1")] == [
                GetCertificateIdUse.V2G_CERTIFICATE_CHAIN
            ]
            # What the charge point no longer has is forgotten on NotFound too.
            await pnc.install_certificate(
                "CP1", InstallCertificateUse.MO_ROOT_CERTIFICATE, pki.mo_root.certificate_pem()
            )
            world.cp.installed.clear()
            again = await pnc.delete_certificate("CP1", mo_hash)
            assert again.status is DeleteCertificateStatus.NOT_FOUND
            assert len(await pnc.installed_certificates("CP1")) == 1

            world.cp.v2g_chain = None
            empty = await pnc.get_installed_certificate_ids(
                "CP1", [GetCertificateIdUse.V2G_CERTIFICATE_CHAIN]
            )
            assert empty.status is GetInstalledCertificateStatus.NOT_FOUND
            assert await pnc.installed_certificates("CP1") == []
            last = world.cp.received_of(GetInstalledCertificateIdsRequest)[-1]
            assert last.certificate_type == (GetCertificateIdUse.V2G_CERTIFICATE_CHAIN,)


async def test_operations_raise_typed_errors() -> None:
    async with pnc_world() as world:
        pnc = world.cs.plug_and_charge
        with pytest.raises(InvalidRequest, match="outside its PEM blocks"):
            await pnc.install_certificate(
                "CP1", InstallCertificateUse.MO_ROOT_CERTIFICATE, "a root certificate"
            )
        with pytest.raises(InvalidRequest, match="PEM blocks, not one"):
            await pnc.install_certificate(
                "CP1", InstallCertificateUse.MO_ROOT_CERTIFICATE, world.pki.secc_chain_pem()
            )
        with pytest.raises(InvalidRequest, match="5500"):
            await pnc.install_certificate(
                "CP1", InstallCertificateUse.MO_ROOT_CERTIFICATE, "x" * 5501
            )
        with pytest.raises(InvalidRequest):
            await pnc.certificate_signed("CP1", "no chain here")
        assert world.sim.received_of(DataTransferRequest) == []
        # A charge point without Plug & Charge.
        world.sim.answer(
            "DataTransfer", DataTransferResponse(status=DataTransferStatus.UNKNOWN_VENDOR_ID)
        )
        with pytest.raises(PncCallRejected) as rejected:
            await pnc.trigger_message("CP1", MessageTrigger.SIGN_V2G_CERTIFICATE)
        assert rejected.value.status == "UnknownVendorId"
        assert rejected.value.message_id == "TriggerMessage"
        # An answer whose inner response breaks its schema.
        world.sim.answer(
            "DataTransfer",
            DataTransferResponse(status=DataTransferStatus.ACCEPTED, data='{"status":"Maybe"}'),
        )
        with pytest.raises(PncSchemaViolation) as broken:
            await pnc.trigger_message("CP1", MessageTrigger.SIGN_V2G_CERTIFICATE)
        assert broken.value.keyword == "enum"


async def test_trigger_message_is_sent_inside_data_transfer() -> None:
    async with pnc_world() as world:
        answer = await world.cs.plug_and_charge.trigger_message(
            "CP1", MessageTrigger.BOOT_NOTIFICATION
        )
        assert answer.status is TriggerMessageStatus.NOT_IMPLEMENTED
        [sent] = world.sim.received_of(DataTransferRequest)
        assert (sent.vendor_id, sent.message_id) == (
            "org.openchargealliance.iso15118pnc",
            "TriggerMessage",
        )
        assert sent.data == '{"requestedMessage":"BootNotification"}'
        assert world.cp.received == [
            TriggerMessageRequest(requested_message=MessageTrigger.BOOT_NOTIFICATION)
        ]


async def test_without_a_store_the_service_works_and_keeps_nothing() -> None:
    stores = Stores(
        charge_points=(base := _memory()).charge_points,
        id_tags=base.id_tags,
        transactions=base.transactions,
        configuration=base.configuration,
    )
    async with pnc_world(stores=stores) as world:
        pnc = world.cs.plug_and_charge
        assert (await world.cp.sign_certificate()).status is GenericStatus.ACCEPTED
        await world.cp.wait_signed()
        with pytest.raises(StoreError, match="pnc_certificates"):
            await pnc.installed_certificates("CP1")
        assert await pnc.renew_expiring_certificates() == []


def _memory() -> Stores:
    from ocpp16csms import memory_stores

    return memory_stores(
        charge_points=[
            ChargePointRecord(
                charge_point_id="CP1", registration_status=RegistrationStatus.ACCEPTED
            )
        ]
    )


# --- signing retries -------------------------------------------------------------------------


async def test_a_refused_chain_leads_to_a_new_csr_after_the_wait() -> None:
    async with pnc_world() as world:
        world.sim.configuration.update(
            {"CertSigningWaitMinimum": ("0", False), "CertSigningRepeatTimes": ("2", False)}
        )
        await world.cs.plug_and_charge.pnc_configuration("CP1", refresh=True)
        refusals = iter([True])

        def refuse_once(request: object) -> CertificateSignedResponse:
            if next(refusals, False):
                return CertificateSignedResponse(status=CertificateSignedStatus.REJECTED)
            world.cp.answers.pop("CertificateSigned")
            return world.cp._certificate_signed(request)  # type: ignore[arg-type]

        world.cp.answer("CertificateSigned", refuse_once)
        await world.cp.sign_certificate()
        chain = await wait_delivered(world)
        kinds = [type(r).__name__ for r in world.cp.received]
        assert kinds == [
            "CertificateSignedRequest",
            "TriggerMessageRequest",
            "CertificateSignedRequest",
        ]
        assert chain == world.cp.v2g_chain
        assert await world.cs.plug_and_charge.signing_requests("CP1") == []


async def test_refusals_stop_after_cert_signing_repeat_times() -> None:
    async with pnc_world() as world:
        world.sim.configuration.update(
            {"CertSigningWaitMinimum": ("0", False), "CertSigningRepeatTimes": ("1", False)}
        )
        await world.cs.plug_and_charge.pnc_configuration("CP1", refresh=True)
        world.cp.answer(
            "CertificateSigned", CertificateSignedResponse(status=CertificateSignedStatus.REJECTED)
        )
        await world.cp.sign_certificate()
        with anyio.fail_after(5):
            while len(world.cp.received) < 3:
                await anyio.sleep(0.005)
        await anyio.sleep(0.1)
        kinds = [type(r).__name__ for r in world.cp.received]
        assert kinds == [
            "CertificateSignedRequest",
            "TriggerMessageRequest",
            "CertificateSignedRequest",
        ]


async def test_an_unanswered_delivery_is_sent_again() -> None:
    async with pnc_world(call_timeout=0.1) as world:
        pnc = world.cs.plug_and_charge
        pnc.settings = PncSettings(signing_wait_minimum=0.3, signing_repeat_times=1)
        dropped: list[object] = []

        async def drop_first(request: DataTransferRequest) -> DataTransferResponse:
            if request.message_id == "CertificateSigned" and not dropped:
                dropped.append(request)
                await anyio.sleep(1)  # longer than the call timeout: no answer in time
            return await world.cp._data_transfer(request)

        world.sim.answer("DataTransfer", drop_first)
        await world.cp.sign_certificate()
        with anyio.fail_after(5):  # the first attempt timed out; the retry waits 0.3 s
            while not [p for p in await pnc.signing_requests("CP1") if p.attempts == 1]:
                await anyio.sleep(0.005)
        [pending] = await pnc.signing_requests("CP1")
        assert pending.last_error is not None
        assert "CallTimeout" in pending.last_error
        assert world.cp.accepted_chains == []
        await world.cp.wait_signed()
        with anyio.fail_after(5):
            while await pnc.signing_requests("CP1"):
                await anyio.sleep(0.005)


# --- renewal ---------------------------------------------------------------------------------


async def test_renewal_asks_ahead_of_expiry_once_per_retry_span() -> None:
    async with pnc_world() as world:
        pnc = world.cs.plug_and_charge
        store = world.cs.stores.require("pnc_certificates")
        await world.cp.sign_certificate()
        await wait_delivered(world)
        first = await pnc.v2g_certificate("CP1")
        assert first is not None
        assert await pnc.renew_expiring_certificates() == []  # a year left
        soon = V2GCertificateState(
            charge_point_id="CP1", not_after=T0 + timedelta(days=10), installed_at=T0
        )
        await store.save_v2g_certificate(soon)
        assert await pnc.renew_expiring_certificates() == ["CP1"]
        await wait_delivered(world, count=2)
        renewed = await pnc.v2g_certificate("CP1")
        assert renewed is not None
        assert renewed.not_after > soon.not_after
        assert renewed.renewal_requested_at is None
        # A charge point that does not renew is asked again only after renewal_retry.
        await store.save_v2g_certificate(soon)
        world.cp.answer(
            "TriggerMessage", TriggerMessageResponse(status=TriggerMessageStatus.REJECTED)
        )
        assert await pnc.renew_expiring_certificates() == []
        asked = len(world.cp.received_of(TriggerMessageRequest))
        world.clock.advance(23 * 3600)
        await pnc.renew_expiring_certificates()
        assert len(world.cp.received_of(TriggerMessageRequest)) == asked
        world.clock.advance(3600)
        await pnc.renew_expiring_certificates()
        assert len(world.cp.received_of(TriggerMessageRequest)) == asked + 1


async def test_renewal_runs_as_a_periodic_job() -> None:
    registered: list[float] = []

    class Engine:
        options = CentralSystemOptions()

        def add_periodic(self, interval: float, job: object) -> None:
            registered.append(interval)

        def after(self, request_type: object) -> object:
            return lambda hook: hook

    routes: list[tuple[str, str | None]] = []
    base = _memory()
    PlugAndChargeService(
        Engine(),  # type: ignore[arg-type]
        route_data_transfer=lambda vendor, message, handler: routes.append((vendor, message)),
        id_tags=base.id_tags,
        configuration=base.configuration,
        certificates=base.pnc_certificates,
    )
    assert registered == [RENEWAL_CHECK_INTERVAL]
    assert sorted(routes) == [("iso15118", None), ("org.openchargealliance.iso15118pnc", None)]


# --- configuration keys ----------------------------------------------------------------------


async def test_the_pnc_configuration_keys_are_read_and_set() -> None:
    async with pnc_world() as world:
        pnc = world.cs.plug_and_charge
        world.sim.configuration.update(
            {
                "ISO15118PnCEnabled": ("true", False),
                "CentralContractValidationAllowed": ("False", False),
                "CertSigningWaitMinimum": ("30", False),
                "CertSigningRepeatTimes": ("oops", False),
                "ContractValidationOffline": ("true", True),
            }
        )
        assert await pnc.pnc_configuration("CP1") == PncConfiguration()
        read = await pnc.pnc_configuration("CP1", refresh=True)
        assert read == PncConfiguration(
            iso15118_pnc_enabled=True,
            central_contract_validation_allowed=False,
            cert_signing_wait_minimum=30,
            contract_validation_offline=True,
        )
        [asked] = world.sim.received_of(GetConfigurationRequest)
        assert asked.key is not None
        assert len(asked.key) == 5
        outcome = await pnc.change_pnc_configuration(
            "CP1", PncConfiguration(iso15118_pnc_enabled=False, cert_signing_repeat_times=3)
        )
        assert outcome == {
            "ISO15118PnCEnabled": ConfigurationStatus.ACCEPTED,
            "CertSigningRepeatTimes": ConfigurationStatus.ACCEPTED,
        }
        sent = world.sim.received_of(ChangeConfigurationRequest)
        assert [(r.key, r.value) for r in sent] == [
            ("ISO15118PnCEnabled", "false"),
            ("CertSigningRepeatTimes", "3"),
        ]
        after = await pnc.pnc_configuration("CP1")
        assert (after.iso15118_pnc_enabled, after.cert_signing_repeat_times) == (False, 3)
        with pytest.raises(InvalidRequest, match="read-only"):
            await pnc.change_pnc_configuration(
                "CP1", PncConfiguration(contract_validation_offline=False)
            )
        assert len(world.sim.received_of(ChangeConfigurationRequest)) == 2


def test_configuration_values_are_checked_when_built() -> None:
    with pytest.raises(ValueError, match="whole number"):
        PncConfiguration(cert_signing_wait_minimum=-1)
    with pytest.raises(TypeError):
        PncConfiguration(iso15118_pnc_enabled="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        PncSettings(renew_before=timedelta(0))
    keys = {"iso15118pncenabled": KeyValue(key="iso15118pncenabled", readonly=False, value="TRUE")}
    assert PncConfiguration.from_keys(keys).iso15118_pnc_enabled is True
