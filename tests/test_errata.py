"""The OCPP 1.6 errata sheet (v4.0) and OCPP-J errata where they touch a central system.

docs/errata.md lists every erratum, what the SDK does about it and the test that proves it;
the tests here are those that have no better home.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from harness import BOOT, T0, connected, make_central_system
from ocpp16csms import (
    CallErrorReceived,
    CentralSystem,
    CentralSystemOptions,
    FeatureNotEnabled,
    InvalidRequest,
    memory_stores,
)
from ocpp16csms.messages import (
    AuthorizationStatus,
    ChargingProfile,
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    ChargingSchedule,
    ChargingSchedulePeriod,
    ExtendedTriggerMessageRequest,
    FirmwareStatus,
    FirmwareStatusNotificationRequest,
    MessageTrigger,
    MessageTriggerExtended,
    MeterValue,
    MeterValuesRequest,
    Reason,
    RegistrationStatus,
    SampledValue,
    StartTransactionRequest,
    StopTransactionRequest,
    TriggerMessageRequest,
    TriggerMessageStatus,
)
from ocpp16csms.messages.base import Profile
from ocpp16csms.registry import ACTIONS
from ocpp16csms.stores import (
    ChargePointRecord,
    IdTagRecord,
    TransactionStop,
    UnmatchedStop,
    UnmatchedStopCause,
)

pytestmark = pytest.mark.anyio


# -- 3.40 / 3.35: no TriggerMessage(BootNotification) once Accepted ----------------------------


async def test_errata_3_40_no_boot_trigger_to_an_accepted_charge_point() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
        with pytest.raises(InvalidRequest, match=r"3\.40"):
            await cs.remote_trigger.trigger_message("CP1", MessageTrigger.BOOT_NOTIFICATION)
        with pytest.raises(InvalidRequest, match=r"3\.40"):
            await cs.remote_trigger.extended_trigger_message(
                "CP1", MessageTriggerExtended.BOOT_NOTIFICATION
            )
        # The raw call meets the same check: it is a pre-send check of the feature.
        with pytest.raises(InvalidRequest, match=r"3\.40"):
            await cs.call(
                "CP1", TriggerMessageRequest(requested_message=MessageTrigger.BOOT_NOTIFICATION)
            )
        # Other triggers still go out.
        answer = await cs.remote_trigger.trigger_message("CP1", MessageTrigger.HEARTBEAT)
        assert answer.status is TriggerMessageStatus.ACCEPTED
    assert [type(r) for r in cp.received] == [TriggerMessageRequest]
    assert cp.received_of(TriggerMessageRequest)[0].requested_message is MessageTrigger.HEARTBEAT


async def test_errata_3_40_a_pending_charge_point_can_be_asked_to_boot_again() -> None:
    cs = make_central_system(charge_points=(), unknown_charge_points="pending")
    async with connected(cs) as cp:
        assert (await cp.call(BOOT)).status is RegistrationStatus.PENDING
        # The host accepts it and asks for a new BootNotification to tell it so (§4.2).
        await cs.core.accept_charge_point("CP1")
        answer = await cs.remote_trigger.trigger_message("CP1", MessageTrigger.BOOT_NOTIFICATION)
        assert answer.status is TriggerMessageStatus.ACCEPTED
        extended = await cs.remote_trigger.extended_trigger_message(
            "CP1", MessageTriggerExtended.BOOT_NOTIFICATION
        )
        assert extended.status is TriggerMessageStatus.ACCEPTED
        # Its BootNotification is now Accepted: from here on the trigger is refused.
        assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
        with pytest.raises(InvalidRequest, match=r"3\.40"):
            await cs.remote_trigger.trigger_message("CP1", MessageTrigger.BOOT_NOTIFICATION)
    assert len(cp.received_of(TriggerMessageRequest)) == 1
    assert len(cp.received_of(ExtendedTriggerMessageRequest)) == 1


async def test_errata_3_40_registration_is_that_of_the_live_connection() -> None:
    cs = make_central_system(charge_points=(), unknown_charge_points="pending")
    assert cs.registration("CP1") is None
    async with connected(cs) as cp:
        assert cs.registration("CP1") is None  # unknown, no BootNotification yet
        await cp.call(BOOT)
        assert cs.registration("CP1") is RegistrationStatus.PENDING
    assert cs.registration("CP1") is None


# -- 3.18: transactionId -1, answered as if valid, and nothing dropped -------------------------


def reading(wh: int, minutes: int) -> MeterValue:
    return MeterValue(
        timestamp=T0 + timedelta(minutes=minutes), sampled_value=(SampledValue(value=str(wh)),)
    )


def orphan_stop(**fields: object) -> StopTransactionRequest:
    values: dict[str, object] = {
        "meter_stop": 1900,
        "timestamp": T0 + timedelta(minutes=30),
        "transaction_id": -1,
        "id_tag": "TAG1",
        "reason": Reason.POWER_LOSS,
        "transaction_data": (reading(1000, 0), reading(1900, 30)),
    }
    values.update(fields)
    return StopTransactionRequest(**values)  # type: ignore[arg-type]


async def test_errata_3_18_a_stop_without_transaction_id_is_answered_and_kept_whole() -> None:
    cs = make_central_system(id_tags=(IdTagRecord(id_tag="TAG1"),))
    request = orphan_stop()
    async with connected(cs) as cp:
        # The charge point also sends its meter values with -1; they are kept as they came.
        await cp.call(
            MeterValuesRequest(connector_id=2, transaction_id=-1, meter_value=(reading(1500, 15),))
        )
        answer = await cp.call(request)
        retry = await cp.call(request)  # not answered in time: it comes again
    # Answered as for a valid transaction: the id tag's status, so the queue moves on.
    assert answer.id_tag_info is not None
    assert answer.id_tag_info.status is AuthorizationStatus.ACCEPTED
    assert retry == answer
    (kept,) = await cs.stores.transactions.unmatched_stops("CP1")
    assert kept == UnmatchedStop(
        charge_point_id="CP1",
        transaction_id=-1,
        stop=TransactionStop(
            meter_stop=1900,
            timestamp=T0 + timedelta(minutes=30),
            reason=Reason.POWER_LOSS,
            id_tag="TAG1",
        ),
        cause=UnmatchedStopCause.NO_TRANSACTION_ID,
        received_at=cs.clock(),
        transaction_data=(reading(1000, 0), reading(1900, 30)),
    )
    # The stop's meter values are not filed under connector 0 (nor anywhere but the stop).
    stored = await cs.stores.transactions.meter_values("CP1")
    assert [(v.connector_id, v.transaction_id, v.meter_value) for v in stored] == [
        (2, -1, reading(1500, 15))
    ]


async def test_errata_3_18_a_stop_without_id_tag_is_answered_without_id_tag_info() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        answer = await cp.call(orphan_stop(id_tag=None, transaction_data=None, reason=None))
    assert answer.id_tag_info is None
    (kept,) = await cs.stores.transactions.unmatched_stops()
    assert kept.stop == TransactionStop(meter_stop=1900, timestamp=T0 + timedelta(minutes=30))
    assert kept.transaction_data == ()


async def test_a_stop_for_another_charge_points_transaction_stops_nothing() -> None:
    cs = make_central_system(charge_points=("CP1", "CP2"))
    async with connected(cs, "CP1") as cp1:
        started = await cp1.call(
            StartTransactionRequest(connector_id=1, id_tag="TAG1", meter_start=0, timestamp=T0)
        )
        async with connected(cs, "CP2") as cp2:
            await cp2.call(orphan_stop(transaction_id=started.transaction_id))
    record = await cs.stores.transactions.get(started.transaction_id)
    assert record is not None
    assert record.active
    assert list(await cs.stores.transactions.meter_values("CP1")) == []
    (kept,) = await cs.stores.transactions.unmatched_stops("CP2")
    assert kept.cause is UnmatchedStopCause.OTHER_CHARGE_POINT
    assert kept.transaction_id == started.transaction_id


# -- 3.2: the feature profile of each message ---------------------------------------------------


def test_errata_3_2_reservation_smart_charging_and_remote_trigger_messages() -> None:
    # Edition 2's table mixed three columns up; the errata put them back.
    expected = {
        "ReserveNow": Profile.RESERVATION,
        "CancelReservation": Profile.RESERVATION,
        "SetChargingProfile": Profile.SMART_CHARGING,
        "ClearChargingProfile": Profile.SMART_CHARGING,
        "GetCompositeSchedule": Profile.SMART_CHARGING,
        "TriggerMessage": Profile.REMOTE_TRIGGER,
    }
    assert {action: ACTIONS[action].profile for action in expected} == expected


# -- 3.8 and 3.37: TxDefaultProfile changes reach running transactions; profiles outlive boots --


def tx_default(profile_id: int, limit: float) -> ChargingProfile:
    return ChargingProfile(
        charging_profile_id=profile_id,
        stack_level=0,
        charging_profile_purpose=ChargingProfilePurposeType.TX_DEFAULT_PROFILE,
        charging_profile_kind=ChargingProfileKindType.RELATIVE,
        charging_schedule=ChargingSchedule(
            charging_rate_unit=ChargingRateUnitType.A,
            charging_schedule_period=(ChargingSchedulePeriod(start_period=0, limit=limit),),
        ),
    )


async def limit_now(cs: CentralSystem) -> float | None:
    schedule = await cs.smart_charging.expected_composite_schedule("CP1", 1, 60)
    return None if schedule is None else schedule.charging_schedule_period[0].limit


async def test_errata_3_8_and_3_37_tx_default_changes_and_boots() -> None:
    cs = make_central_system(id_tags=(IdTagRecord(id_tag="TAG1"),))
    async with connected(cs) as cp:
        await cs.smart_charging.set_charging_profile("CP1", 0, tx_default(1, 16.0))
        await cp.call(
            StartTransactionRequest(connector_id=1, id_tag="TAG1", meter_start=0, timestamp=T0)
        )
        assert await limit_now(cs) == 16.0
        # 3.8: a new TxDefaultProfile applies to the running transaction at once …
        await cs.smart_charging.set_charging_profile("CP1", 0, tx_default(2, 10.0))
        assert await limit_now(cs) == 10.0
        # 3.37: profiles persist across a reboot, so a boot removes nothing …
        await cp.call(BOOT)
        assert await limit_now(cs) == 10.0
        # … and once it is removed the running transaction goes on without it.
        await cs.smart_charging.clear_charging_profile("CP1", charging_profile_id=2)
        assert await limit_now(cs) is None


# -- 3.3: feature profiles are normative ----------------------------------------------------------


async def test_errata_3_3_a_feature_left_out_is_not_supported() -> None:
    stores = memory_stores()
    await stores.charge_points.save(
        ChargePointRecord(charge_point_id="CP1", registration_status=RegistrationStatus.ACCEPTED)
    )
    cs = CentralSystem(stores, CentralSystemOptions(handler_grace=1.0), features=["Core"])
    assert cs.features == frozenset({Profile.CORE})
    with pytest.raises(FeatureNotEnabled):
        _ = cs.firmware
    async with connected(cs) as cp:
        with pytest.raises(CallErrorReceived) as refused:
            await cp.call(FirmwareStatusNotificationRequest(status=FirmwareStatus.IDLE))
        assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED  # Core still served
    assert refused.value.code == "NotSupported"


# -- 3.65 / 3.66: validFrom and validTo are allowed on a TxProfile --------------------------------


def test_errata_3_65_a_tx_profile_may_have_valid_from_and_valid_to() -> None:
    from ocpp16csms.profiles.smart_charging import validate_charging_profile

    profile = ChargingProfile(
        charging_profile_id=7,
        stack_level=1,
        charging_profile_purpose=ChargingProfilePurposeType.TX_PROFILE,
        charging_profile_kind=ChargingProfileKindType.RELATIVE,
        valid_from=T0,
        valid_to=T0 + timedelta(hours=1),
        charging_schedule=ChargingSchedule(
            charging_rate_unit=ChargingRateUnitType.A,
            charging_schedule_period=(ChargingSchedulePeriod(start_period=0, limit=8.0),),
        ),
    )
    validate_charging_profile(profile, connector_id=1)  # raises on a broken rule
