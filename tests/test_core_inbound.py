"""Core profile, charge point → central system: default behaviour, on asyncio and trio."""

from __future__ import annotations

import logging
from datetime import UTC, timedelta, timezone
from typing import Any

import anyio
import pytest

from harness import BOOT, T0, FakeClock, connected, make_central_system
from ocpp16csms import (
    CallErrorReceived,
    CentralSystem,
    IdTagRecord,
    UnknownChargePointPolicy,
)
from ocpp16csms.messages import (
    AuthorizationStatus,
    AuthorizeRequest,
    BootNotificationRequest,
    ChargePointErrorCode,
    ChargePointStatus,
    DataTransferRequest,
    DataTransferResponse,
    DataTransferStatus,
    HeartbeatRequest,
    MeterValue,
    MeterValuesRequest,
    Reason,
    RegistrationStatus,
    SampledValue,
    StartTransactionRequest,
    StatusNotificationRequest,
    StopTransactionRequest,
)
from ocpp16csms.stores import TransactionStart, TransactionStop, UnmatchedStop, UnmatchedStopCause

pytestmark = pytest.mark.anyio

TAGS = (
    IdTagRecord(id_tag="GOOD"),
    IdTagRecord(id_tag="KID", parent_id_tag="PARENT"),
    IdTagRecord(id_tag="BLOCKED", status=AuthorizationStatus.BLOCKED),
    IdTagRecord(id_tag="OLD", expiry_date=T0 - timedelta(days=1)),
    IdTagRecord(id_tag="LATER", expiry_date=T0 + timedelta(days=1)),
)


def start(**overrides: Any) -> StartTransactionRequest:
    fields: dict[str, Any] = {
        "connector_id": 1,
        "id_tag": "GOOD",
        "meter_start": 100,
        "timestamp": T0,
    }
    fields.update(overrides)
    return StartTransactionRequest(**fields)


def meter_value(wh: int) -> MeterValue:
    return MeterValue(
        timestamp=T0 + timedelta(minutes=wh),
        sampled_value=(SampledValue(value=str(wh)),),
    )


async def test_boot_of_a_known_charge_point_is_accepted_and_stored() -> None:
    cs = make_central_system(heartbeat_interval=123)
    async with connected(cs) as cp:
        answer = await cp.call(BOOT)
    assert answer.status is RegistrationStatus.ACCEPTED
    assert answer.interval == 123
    assert answer.current_time == T0
    record = await cs.stores.charge_points.get("CP1")
    assert record is not None
    assert record.boot is not None
    assert record.boot.charge_point_model == "Volt 22"
    assert record.last_boot_at == T0


@pytest.mark.parametrize(
    ("policy", "status", "registered"),
    [
        (UnknownChargePointPolicy.REJECT, RegistrationStatus.REJECTED, False),
        (UnknownChargePointPolicy.PENDING, RegistrationStatus.PENDING, True),
        (UnknownChargePointPolicy.ACCEPT, RegistrationStatus.ACCEPTED, True),
    ],
)
async def test_boot_of_an_unknown_charge_point_follows_the_policy(
    policy: UnknownChargePointPolicy, status: RegistrationStatus, registered: bool
) -> None:
    cs = make_central_system(charge_points=(), unknown_charge_points=policy, retry_boot_interval=42)
    async with connected(cs, "NEW") as cp:
        answer = await cp.call(BOOT)
    assert answer.status is status
    assert answer.interval == (300 if status is RegistrationStatus.ACCEPTED else 42)
    record = await cs.stores.charge_points.get("NEW")
    assert (record is not None) is registered
    if record is not None:
        assert record.registration_status is status


async def test_a_pending_charge_point_stays_pending_until_accepted() -> None:
    cs = make_central_system(
        charge_points=(), unknown_charge_points=UnknownChargePointPolicy.PENDING
    )
    async with connected(cs, "NEW") as cp:
        assert (await cp.call(BOOT)).status is RegistrationStatus.PENDING
        assert (await cp.call(BOOT)).status is RegistrationStatus.PENDING
        await cs.core.accept_charge_point("NEW")
        assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED


async def test_calls_before_an_accepted_boot_get_the_policy_error() -> None:
    cs = make_central_system(charge_points=())
    async with connected(cs, "NEW") as cp:
        with pytest.raises(CallErrorReceived) as refused:
            await cp.call(AuthorizeRequest(id_tag="GOOD"))
        assert refused.value.code == "SecurityError"
        assert (await cp.call(BOOT)).status is RegistrationStatus.REJECTED
        with pytest.raises(CallErrorReceived):
            await cp.call(HeartbeatRequest())


async def test_a_charge_point_accepted_before_a_restart_needs_no_new_boot() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        answer = await cp.call(HeartbeatRequest())
    assert answer.current_time == T0


@pytest.mark.parametrize(
    ("id_tag", "status", "parent"),
    [
        ("GOOD", AuthorizationStatus.ACCEPTED, None),
        ("good", AuthorizationStatus.ACCEPTED, None),
        ("KID", AuthorizationStatus.ACCEPTED, "PARENT"),
        ("BLOCKED", AuthorizationStatus.BLOCKED, None),
        ("OLD", AuthorizationStatus.EXPIRED, None),
        ("LATER", AuthorizationStatus.ACCEPTED, None),
        ("NOBODY", AuthorizationStatus.INVALID, None),
    ],
)
async def test_authorize(id_tag: str, status: AuthorizationStatus, parent: str | None) -> None:
    cs = make_central_system(id_tags=TAGS)
    async with connected(cs) as cp:
        answer = await cp.call(AuthorizeRequest(id_tag=id_tag))
    assert answer.id_tag_info.status is status
    assert answer.id_tag_info.parent_id_tag == parent


async def test_authorize_concurrent_tx_only_when_the_policy_says_so() -> None:
    for concurrent_tx, expected in (
        (True, AuthorizationStatus.CONCURRENT_TX),
        (False, AuthorizationStatus.ACCEPTED),
    ):
        cs = make_central_system(id_tags=TAGS, concurrent_tx=concurrent_tx)
        async with connected(cs) as cp:
            await cp.call(start())
            answer = await cp.call(AuthorizeRequest(id_tag="GOOD"))
        assert answer.id_tag_info.status is expected


async def test_start_transaction_assigns_unique_ids_and_a_retry_gets_the_same() -> None:
    cs = make_central_system(id_tags=TAGS)
    async with connected(cs) as cp:
        first = await cp.call(start())
        again = await cp.call(start())
        other = await cp.call(start(connector_id=2, timestamp=T0 + timedelta(seconds=1)))
    assert first.transaction_id == again.transaction_id
    assert other.transaction_id != first.transaction_id
    active = await cs.stores.transactions.active(charge_point_id="CP1")
    assert sorted(t.transaction_id for t in active) == sorted(
        [first.transaction_id, other.transaction_id]
    )


async def test_a_refused_tag_still_records_the_transaction() -> None:
    cs = make_central_system(id_tags=TAGS)
    async with connected(cs) as cp:
        answer = await cp.call(start(id_tag="BLOCKED"))
        retry = await cp.call(start(id_tag="BLOCKED"))
    assert answer.id_tag_info.status is AuthorizationStatus.BLOCKED
    assert retry.id_tag_info.status is AuthorizationStatus.BLOCKED
    record = await cs.stores.transactions.get(answer.transaction_id)
    assert record is not None
    assert record.start.id_tag_status is AuthorizationStatus.BLOCKED


async def test_a_retried_start_is_not_concurrent_with_itself() -> None:
    cs = make_central_system(id_tags=TAGS, concurrent_tx=True)
    async with connected(cs) as cp:
        first = await cp.call(start())
        retry = await cp.call(start())
    assert first.id_tag_info.status is AuthorizationStatus.ACCEPTED
    assert retry.id_tag_info.status is AuthorizationStatus.ACCEPTED


async def test_stop_transaction_closes_it_once_and_keeps_its_meter_values() -> None:
    cs = make_central_system(id_tags=TAGS)
    stop = StopTransactionRequest(
        meter_stop=900,
        timestamp=T0 + timedelta(hours=1),
        transaction_id=0,
        reason=Reason.LOCAL,
        id_tag="GOOD",
        transaction_data=(meter_value(1), meter_value(2)),
    )
    async with connected(cs) as cp:
        started = await cp.call(start())
        stop = StopTransactionRequest(**{**_fields(stop), "transaction_id": started.transaction_id})
        answer = await cp.call(stop)
        assert (await cp.call(stop)).id_tag_info == answer.id_tag_info  # a retry
        later = StopTransactionRequest(
            **{**_fields(stop), "meter_stop": 999, "id_tag": None, "transaction_data": None}
        )
        repeat = await cp.call(later)
    assert answer.id_tag_info is not None
    assert answer.id_tag_info.status is AuthorizationStatus.ACCEPTED
    assert repeat.id_tag_info is None
    record = await cs.stores.transactions.get(started.transaction_id)
    assert record is not None
    assert record.stop is not None
    assert record.stop.meter_stop == 900
    values = await cs.stores.transactions.meter_values("CP1", transaction_id=record.transaction_id)
    assert [v.meter_value for v in values] == [meter_value(1), meter_value(2)]
    assert {v.connector_id for v in values} == {1}
    # The exact retry added nothing; the later stop with other data is kept apart, unmatched.
    (unmatched,) = await cs.stores.transactions.unmatched_stops("CP1")
    assert unmatched.cause is UnmatchedStopCause.ALREADY_STOPPED
    assert unmatched.stop.meter_stop == 999


async def test_stop_of_an_unknown_transaction_is_still_answered() -> None:
    cs = make_central_system(id_tags=TAGS)
    async with connected(cs) as cp:
        answer = await cp.call(
            StopTransactionRequest(
                meter_stop=5,
                timestamp=T0,
                transaction_id=4242,
                id_tag="BLOCKED",
                transaction_data=(meter_value(3),),
            )
        )
    assert answer.id_tag_info is not None
    assert answer.id_tag_info.status is AuthorizationStatus.BLOCKED
    # Its data is kept as an unmatched stop, not among the meter values of a transaction.
    assert list(await cs.stores.transactions.meter_values("CP1")) == []
    (kept,) = await cs.stores.transactions.unmatched_stops("CP1")
    assert kept.transaction_id == 4242
    assert kept.cause is UnmatchedStopCause.UNKNOWN_TRANSACTION
    assert kept.transaction_data == (meter_value(3),)
    # Built without its __init__: the same as the class builds.
    built = UnmatchedStop(
        charge_point_id="CP1",
        transaction_id=4242,
        stop=TransactionStop(meter_stop=5, timestamp=T0, id_tag="BLOCKED"),
        cause=UnmatchedStopCause.UNKNOWN_TRANSACTION,
        received_at=T0,
        transaction_data=[meter_value(3)],  # type: ignore[arg-type]  # the converter's tuple
    )
    assert kept == built
    assert repr(kept) == repr(built)
    assert hash(kept) == hash(built)


async def test_unmatched_stops_warn_once_a_minute_per_charge_point(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A burst of unmatched stops (a queue emptied, or a hostile charge point) logs one
    warning per charge point and minute, the rest at INFO, counted in the next warning; every
    one of them is kept."""
    cs = make_central_system(charge_points=("CP1", "CP2"))
    clock = cs.clock
    assert isinstance(clock, FakeClock)

    def stop(transaction_id: int) -> StopTransactionRequest:
        return StopTransactionRequest(meter_stop=5, timestamp=T0, transaction_id=transaction_id)

    def logged(level: int) -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.name == "ocpp16csms.handlers" and r.levelno == level
        ]

    caplog.set_level(logging.INFO, logger="ocpp16csms")
    async with connected(cs, "CP1") as cp1, connected(cs, "CP2") as cp2:
        for transaction_id in (1001, 1002, 1003):
            await cp1.call(stop(transaction_id))
        await cp2.call(stop(2001))
        clock.advance(59)
        await cp1.call(stop(1004))
        assert len(logged(logging.WARNING)) == 2  # CP1's first, CP2's first
        assert len(logged(logging.INFO)) == 3
        clock.advance(1)
        await cp1.call(stop(1005))
        await cp1.call(stop(1005))  # a retry: counted as the others
    warnings = logged(logging.WARNING)
    assert len(warnings) == 3
    assert "[CP1]" in warnings[0]
    assert "1001" in warnings[0]
    assert "[CP2]" in warnings[1]
    assert "more since" not in warnings[1]
    assert "1005" in warnings[2]
    assert "(3 more since the last warning" in warnings[2]
    assert "a retry, already kept" in logged(logging.INFO)[-1]
    assert len(await cs.stores.transactions.unmatched_stops("CP1")) == 5
    # A clock that goes back starts a new minute rather than silencing the warnings.
    clock.advance(-3600)
    async with connected(cs, "CP1") as cp1:
        await cp1.call(stop(1006))
    assert len(logged(logging.WARNING)) == 4


async def test_meter_values_are_stored_once() -> None:
    cs = make_central_system()
    request = MeterValuesRequest(
        connector_id=2, transaction_id=7, meter_value=(meter_value(1), meter_value(2))
    )
    async with connected(cs) as cp:
        await cp.call(request)
        await cp.call(request)
    values = await cs.stores.transactions.meter_values("CP1")
    assert [(v.connector_id, v.transaction_id, v.meter_value) for v in values] == [
        (2, 7, meter_value(1)),
        (2, 7, meter_value(2)),
    ]


async def test_status_notification_keeps_the_newest() -> None:
    cs = make_central_system()

    def status(state: ChargePointStatus, minute: int) -> StatusNotificationRequest:
        return StatusNotificationRequest(
            connector_id=1,
            error_code=ChargePointErrorCode.NO_ERROR,
            status=state,
            timestamp=T0 + timedelta(minutes=minute),
            info="x",
        )

    async with connected(cs) as cp:
        await cp.call(status(ChargePointStatus.CHARGING, 5))
        await cp.call(status(ChargePointStatus.PREPARING, 1))
        await cp.call(
            StatusNotificationRequest(
                connector_id=0,
                error_code=ChargePointErrorCode.GROUND_FAILURE,
                status=ChargePointStatus.FAULTED,
            )
        )
    statuses = await cs.stores.charge_points.connector_statuses("CP1")
    assert statuses[1].status is ChargePointStatus.CHARGING
    assert statuses[1].info == "x"
    assert statuses[0].status is ChargePointStatus.FAULTED
    assert statuses[0].timestamp == T0  # no timestamp sent: the time it was received


async def test_heartbeat_answers_the_time_and_updates_last_seen() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        answer = await cp.call(HeartbeatRequest())
    assert answer.current_time == T0
    record = await cs.stores.charge_points.get("CP1")
    assert record is not None
    assert record.last_seen == T0


@pytest.mark.parametrize("zone", [UTC, timezone(timedelta(hours=2)), None])
async def test_heartbeat_answers_the_clock_in_whatever_zone_it_gives(
    zone: timezone | None,
) -> None:
    """The answer to a Heartbeat (built without its check for the usual UTC clock) is the
    clock's instant in any zone; a naive clock is still refused by the answer's check."""
    now = T0.astimezone(zone) if zone is not None else T0.replace(tzinfo=None)
    cs = CentralSystem(make_central_system().stores, clock=lambda: now)
    async with connected(cs) as cp:
        if zone is None:
            with pytest.raises(CallErrorReceived) as raised:
                await cp.call(HeartbeatRequest())
            assert raised.value.code == "InternalError"
            return
        answer = await cp.call(HeartbeatRequest())
    assert answer.current_time == T0
    assert answer.current_time.tzinfo is UTC  # as sent: the wire's date-times are in UTC


async def test_heartbeats_write_last_seen_once_per_resolution() -> None:
    cs = make_central_system(last_seen_resolution=0.2)
    writes: list[object] = []
    store = cs.stores.charge_points
    touch = store.touch

    async def counted(charge_point_id: str, at: Any) -> None:
        writes.append(at)
        await touch(charge_point_id, at)

    store.touch = counted  # type: ignore[method-assign]
    async with connected(cs) as cp:
        for _ in range(3):
            await cp.call(HeartbeatRequest())
        assert len(writes) == 1  # one store write, not one per heartbeat (nor two)
        await anyio.sleep(0.25)
        await cp.call(HeartbeatRequest())
        assert len(writes) == 2
    record = await store.get("CP1")
    assert record is not None
    assert record.last_seen == writes[-1]


async def test_data_transfer_is_routed_by_vendor_then_message_id() -> None:
    cs = make_central_system()
    seen: list[DataTransferRequest] = []

    @cs.core.data_transfer_handler("com.acme", "ping")
    async def ping(request: DataTransferRequest, ctx: object) -> DataTransferResponse:
        seen.append(request)
        return DataTransferResponse(status=DataTransferStatus.ACCEPTED, data="pong")

    async with connected(cs) as cp:
        pong = await cp.call(DataTransferRequest(vendor_id="com.acme", message_id="ping"))
        unknown_message = await cp.call(DataTransferRequest(vendor_id="com.acme", message_id="x"))
        unknown_vendor = await cp.call(DataTransferRequest(vendor_id="org.other"))
    assert (pong.status, pong.data) == (DataTransferStatus.ACCEPTED, "pong")
    assert unknown_message.status is DataTransferStatus.UNKNOWN_MESSAGE_ID
    assert unknown_vendor.status is DataTransferStatus.UNKNOWN_VENDOR_ID
    assert [r.message_id for r in seen] == ["ping"]


async def test_a_vendor_wide_data_transfer_handler_takes_every_message_id() -> None:
    cs = make_central_system()

    @cs.core.data_transfer_handler("com.acme")
    async def anything(request: DataTransferRequest, ctx: object) -> DataTransferResponse:
        return DataTransferResponse(status=DataTransferStatus.REJECTED, data=request.message_id)

    async with connected(cs) as cp:
        answer = await cp.call(DataTransferRequest(vendor_id="com.acme", message_id="abc"))
    assert (answer.status, answer.data) == (DataTransferStatus.REJECTED, "abc")


async def test_boot_then_transaction_keeps_the_boot_state_on_the_connection() -> None:
    cs = make_central_system(
        charge_points=(), unknown_charge_points=UnknownChargePointPolicy.ACCEPT
    )
    async with connected(cs, "AUTO") as cp:
        await cp.call(BootNotificationRequest(charge_point_vendor="V", charge_point_model="M"))
        answer = await cp.call(HeartbeatRequest())
    assert answer.current_time == T0
    created = await cs.stores.transactions.start(
        TransactionStart(
            charge_point_id="AUTO", connector_id=1, id_tag="X", meter_start=0, timestamp=T0
        )
    )
    assert created[1] is True


def _fields(request: Any) -> dict[str, Any]:
    import attrs

    return attrs.asdict(request, recurse=False)
