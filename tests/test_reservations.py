"""Reservation profile (§5.1, §5.13): the lifecycle end to end with the simulator, and its rules
as hypothesis properties."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import T0, FakeClock, connected, make_central_system
from ocpp16csms import (
    CallErrorReceived,
    CallTimeout,
    CentralSystem,
    ChargePointNotConnected,
    ErrorCode,
    InvalidRequest,
    memory_stores,
)
from ocpp16csms.messages import (
    CancelReservationRequest,
    CancelReservationResponse,
    CancelReservationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    KeyValue,
    ReservationStatus,
    ReserveNowRequest,
    ReserveNowResponse,
    StartTransactionRequest,
    StatusNotificationRequest,
)
from ocpp16csms.profiles.reservation.lifecycle import (
    FINAL_STATES,
    LIVE_STATES,
    RESERVATION_TRANSITIONS,
    ReservationEvent,
    ReservationRecord,
    ReservationState,
    ReservationTransitionError,
    event_for_answer,
    expire_reservations,
    is_due_for_expiry,
    move_reservation,
    new_reservation,
    reservation_matches,
    view_reservation,
)
from ocpp16csms.profiles.reservation.store import (
    MemoryReservationStore,
    ReservationStore,
)
from ocpp16csms.stores import (
    IdTagRecord,
    StoreError,
)

EXPIRY = T0 + timedelta(hours=1)


def store_of(cs: CentralSystem) -> ReservationStore:
    store = cs.stores.reservations
    assert store is not None
    return store


def clock_of(cs: CentralSystem) -> FakeClock:
    assert isinstance(cs.clock, FakeClock)
    return cs.clock


async def record_of(cs: CentralSystem, reservation_id: int = 7) -> ReservationRecord:
    record = await store_of(cs).get("CP1", reservation_id)
    assert record is not None
    return record


async def reserve(cs: CentralSystem, reservation_id: int = 7, **fields: Any) -> ReservationStatus:
    fields.setdefault("connector_id", 1)
    fields.setdefault("id_tag", "TAG-A")
    fields.setdefault("expiry_date", EXPIRY)
    response = await cs.reservation.reserve_now("CP1", reservation_id=reservation_id, **fields)
    return response.status


def start(reservation_id: int | None = 7, id_tag: str = "TAG-A", **fields: Any) -> Any:
    fields.setdefault("connector_id", 1)
    fields.setdefault("meter_start", 0)
    fields.setdefault("timestamp", T0)
    return StartTransactionRequest(id_tag=id_tag, reservation_id=reservation_id, **fields)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "ocpp16csms.reservation" and r.levelno == logging.WARNING
    ]


# --- ReserveNow -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_accepted_reservation_is_sent_and_recorded() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        status = await reserve(cs, connector_id=2, id_tag="Tag-A", parent_id_tag="FLEET")
    assert status is ReservationStatus.ACCEPTED
    assert cp.received_of(ReserveNowRequest) == [
        ReserveNowRequest(
            connector_id=2,
            expiry_date=EXPIRY,
            id_tag="Tag-A",
            reservation_id=7,
            parent_id_tag="FLEET",
        )
    ]
    assert await record_of(cs) == ReservationRecord(
        charge_point_id="CP1",
        reservation_id=7,
        connector_id=2,
        id_tag="Tag-A",
        parent_id_tag="FLEET",
        expiry_date=EXPIRY,
        status=ReservationState.ACCEPTED,
        requested_at=T0,
        updated_at=T0,
    )


@pytest.mark.anyio
async def test_reservation_is_recorded_as_requested_before_it_is_sent() -> None:
    cs = make_central_system()
    seen: list[ReservationRecord | None] = []

    async def answer(request: ReserveNowRequest) -> ReserveNowResponse:
        seen.append(await store_of(cs).get("CP1", request.reservation_id))
        return ReserveNowResponse(status=ReservationStatus.ACCEPTED)

    async with connected(cs) as cp:
        cp.answer("ReserveNow", answer)
        await reserve(cs)
    assert [r.status if r else None for r in seen] == [ReservationState.REQUESTED]
    assert (await record_of(cs)).status is ReservationState.ACCEPTED


@pytest.mark.anyio
@pytest.mark.parametrize(
    "status",
    [
        ReservationStatus.FAULTED,
        ReservationStatus.OCCUPIED,
        ReservationStatus.REJECTED,
        ReservationStatus.UNAVAILABLE,
    ],
)
async def test_each_refusal_is_recorded_as_a_final_state(status: ReservationStatus) -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        cp.answer("ReserveNow", ReserveNowResponse(status=status))
        assert await reserve(cs) is status
        record = await record_of(cs)
        assert record.status.value == status.value
        assert record.status in FINAL_STATES
        # A refused reservation is not cancellable and never expires.
        with pytest.raises(InvalidRequest, match=f"already {status.value}"):
            await cs.reservation.cancel_reservation("CP1", 7)
        clock_of(cs).advance(7200)
        assert await cs.reservation.expire_reservations() == []
    assert cp.received_of(CancelReservationRequest) == []


@pytest.mark.anyio
async def test_a_call_error_marks_a_new_reservation_failed() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        cp.answer("ReserveNow", error=ErrorCode.NOT_SUPPORTED)
        with pytest.raises(CallErrorReceived):
            await reserve(cs)
    assert (await record_of(cs)).status is ReservationState.FAILED


@pytest.mark.anyio
async def test_a_call_error_on_a_replacement_restores_the_previous_reservation() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        await reserve(cs, connector_id=1)
        before = await record_of(cs)
        cp.answer("ReserveNow", error=ErrorCode.INTERNAL_ERROR)
        clock_of(cs).advance(5)
        with pytest.raises(CallErrorReceived):
            await reserve(cs, connector_id=2, id_tag="TAG-B")
    assert await record_of(cs) == before


@pytest.mark.anyio
async def test_nothing_sent_marks_the_reservation_failed() -> None:
    cs = make_central_system()
    with pytest.raises(ChargePointNotConnected):
        await reserve(cs)
    assert (await record_of(cs)).status is ReservationState.FAILED


@pytest.mark.anyio
async def test_a_timeout_leaves_the_reservation_requested_until_it_expires() -> None:
    cs = make_central_system(call_timeout=0.1)
    async with connected(cs) as cp:
        cp.answer("ReserveNow", drop=True)
        with pytest.raises(CallTimeout):
            await reserve(cs)
        assert (await record_of(cs)).status is ReservationState.REQUESTED
        # The charge point may hold it: it can still be cancelled...
        with pytest.raises(CallTimeout):
            await reserve(cs, 8)
        assert (
            await cs.reservation.cancel_reservation("CP1", 8)
        ).status is CancelReservationStatus.ACCEPTED
    assert (await record_of(cs, 8)).status is ReservationState.CANCELLED
    # ...and otherwise it expires like an accepted one.
    clock_of(cs).advance(3600)
    assert [r.reservation_id for r in await cs.reservation.expire_reservations()] == [7]
    assert (await record_of(cs)).status is ReservationState.EXPIRED


@pytest.mark.anyio
async def test_the_same_id_replaces_the_reservation() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        await reserve(cs, connector_id=1, id_tag="TAG-A")
        clock_of(cs).advance(10)
        assert await reserve(cs, connector_id=2, id_tag="TAG-B") is ReservationStatus.ACCEPTED
    assert [r.connector_id for r in cp.received_of(ReserveNowRequest)] == [1, 2]
    assert await store_of(cs).find(charge_point_id="CP1") == [
        ReservationRecord(
            charge_point_id="CP1",
            reservation_id=7,
            connector_id=2,
            id_tag="TAG-B",
            expiry_date=EXPIRY,
            status=ReservationState.ACCEPTED,
            requested_at=T0 + timedelta(seconds=10),
            updated_at=T0 + timedelta(seconds=10),
        )
    ]


@pytest.mark.anyio
async def test_the_id_of_a_finished_reservation_can_be_reused() -> None:
    cs = make_central_system()
    async with connected(cs):
        await reserve(cs)
        await cs.reservation.cancel_reservation("CP1", 7)
        assert await reserve(cs, id_tag="TAG-B") is ReservationStatus.ACCEPTED
    record = await record_of(cs)
    assert (record.id_tag, record.status) == ("TAG-B", ReservationState.ACCEPTED)


@pytest.mark.anyio
@pytest.mark.parametrize("supported", ["true", "TRUE", None])
async def test_connector_zero_is_sent_unless_known_unsupported(supported: str | None) -> None:
    cs = make_central_system()
    if supported is not None:
        await cs.stores.configuration.put(
            "CP1", [KeyValue(key="ReserveConnectorZeroSupported", readonly=True, value=supported)]
        )
    async with connected(cs) as cp:
        assert await reserve(cs, connector_id=0) is ReservationStatus.ACCEPTED
    assert cp.received_of(ReserveNowRequest)[0].connector_id == 0
    assert (await record_of(cs)).connector_id == 0


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("config", "fields", "message"),
    [
        ({}, {"expiry_date": T0}, "not after now"),
        ({}, {"expiry_date": T0 - timedelta(seconds=1)}, "not after now"),
        ({}, {"expiry_date": datetime(2027, 1, 1)}, "timezone-aware"),
        ({}, {"connector_id": -1}, "connector_id"),
        ({"NumberOfConnectors": "2"}, {"connector_id": 3}, "does not exist"),
        ({}, {"id_tag": "T" * 21}, "id_tag"),
        ({}, {"parent_id_tag": "P" * 21}, "parent_id_tag"),
        ({"ReserveConnectorZeroSupported": "false"}, {"connector_id": 0}, "connector 0"),
    ],
)
async def test_pre_send_checks_send_and_store_nothing(
    config: dict[str, str], fields: dict[str, Any], message: str
) -> None:
    cs = make_central_system()
    await cs.stores.configuration.put(
        "CP1", [KeyValue(key=k, readonly=True, value=v) for k, v in config.items()]
    )
    async with connected(cs) as cp:
        with pytest.raises(InvalidRequest, match=message):
            await reserve(cs, **fields)
    assert cp.received == []
    assert await store_of(cs).find() == []


@pytest.mark.anyio
async def test_without_a_reservation_store_nothing_is_sent() -> None:
    stores = attrs.evolve(memory_stores(), reservations=None)
    cs = make_central_system(stores=stores)
    await cs.core.accept_charge_point("CP1")
    async with connected(cs) as cp:
        with pytest.raises(StoreError, match="reservations"):
            await reserve(cs)
        with pytest.raises(StoreError, match="reservations"):
            await cs.reservation.cancel_reservation("CP1", 7)
        # StartTransaction with a reservation id is still answered (no hook is installed).
        assert (await cp.call(start())).transaction_id == 1
    assert cp.received == []


# --- CancelReservation ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_cancel_accepted_cancels() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        await reserve(cs)
        clock_of(cs).advance(30)
        response = await cs.reservation.cancel_reservation("CP1", 7)
    assert response.status is CancelReservationStatus.ACCEPTED
    assert cp.received_of(CancelReservationRequest) == [CancelReservationRequest(reservation_id=7)]
    record = await record_of(cs)
    assert (record.status, record.updated_at) == (
        ReservationState.CANCELLED,
        T0 + timedelta(seconds=30),
    )


@pytest.mark.anyio
async def test_cancel_rejected_leaves_the_reservation_and_reports_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        await reserve(cs)
        cp.answer(
            "CancelReservation",
            CancelReservationResponse(status=CancelReservationStatus.REJECTED),
        )
        with caplog.at_level(logging.WARNING, logger="ocpp16csms.reservation"):
            response = await cs.reservation.cancel_reservation("CP1", 7)
    assert response.status is CancelReservationStatus.REJECTED
    assert (await record_of(cs)).status is ReservationState.ACCEPTED
    [warning] = warnings_of(caplog)
    assert "rejected" in warning.getMessage()
    assert warning.charge_point_id == "CP1"  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_cancel_of_an_unknown_id_is_sent() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        response = await cs.reservation.cancel_reservation("CP1", 99)
    assert response.status is CancelReservationStatus.ACCEPTED
    assert cp.received_of(CancelReservationRequest) == [CancelReservationRequest(reservation_id=99)]
    assert await store_of(cs).find() == []


# --- expiry -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_expiry_follows_the_clock() -> None:
    cs = make_central_system()
    async with connected(cs):
        await reserve(cs, 1, expiry_date=T0 + timedelta(seconds=60))
        await reserve(cs, 2, expiry_date=T0 + timedelta(seconds=120))
    clock = clock_of(cs)
    assert await cs.reservation.expire_reservations() == []
    clock.advance(59)
    assert await cs.reservation.expire_reservations() == []
    clock.advance(1)  # expired at expiry_date == now
    [expired] = await cs.reservation.expire_reservations()
    assert (expired.reservation_id, expired.status, expired.updated_at) == (
        1,
        ReservationState.EXPIRED,
        T0 + timedelta(seconds=60),
    )
    assert await cs.reservation.expire_reservations() == []
    assert (await record_of(cs, 2)).status is ReservationState.ACCEPTED
    expired_later = await cs.reservation.expire_reservations(T0 + timedelta(seconds=500))
    assert [r.reservation_id for r in expired_later] == [2]


@pytest.mark.anyio
async def test_the_periodic_job_expires_reservations_unasked() -> None:
    cs = make_central_system(reservation_expiry_interval=0.01)
    async with cs:
        async with connected(cs):
            await reserve(cs, expiry_date=T0 + timedelta(seconds=60))
        await anyio.sleep(0.05)
        assert (await record_of(cs)).status is ReservationState.ACCEPTED
        clock_of(cs).advance(60)
        with anyio.fail_after(5):
            while (await record_of(cs)).status is not ReservationState.EXPIRED:
                await anyio.sleep(0.005)


# --- StartTransaction -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_matching_start_uses_the_reservation(caplog: pytest.LogCaptureFixture) -> None:
    cs = make_central_system(id_tags=(IdTagRecord(id_tag="TAG-A"),))
    async with connected(cs) as cp:
        await reserve(cs, id_tag="tag-a")
        clock_of(cs).advance(20)
        with caplog.at_level(logging.WARNING, logger="ocpp16csms.reservation"):
            answer = await cp.call(start(id_tag="TAG-A"))
            retried = await cp.call(start(id_tag="TAG-A"))  # the charge point retries
    assert retried.transaction_id == answer.transaction_id
    record = await record_of(cs)
    assert (record.status, record.transaction_id, record.updated_at) == (
        ReservationState.USED,
        answer.transaction_id,
        T0 + timedelta(seconds=20),
    )
    assert warnings_of(caplog) == []


@pytest.mark.anyio
async def test_a_start_whose_parent_matches_uses_the_reservation() -> None:
    cs = make_central_system(
        id_tags=(IdTagRecord(id_tag="CARD-2", parent_id_tag="fleet-1"),),
    )
    async with connected(cs) as cp:
        await reserve(cs, id_tag="CARD-1", parent_id_tag="FLEET-1", connector_id=0)
        answer = await cp.call(start(id_tag="card-2", connector_id=2))
    record = await record_of(cs)
    assert (record.status, record.transaction_id) == (ReservationState.USED, answer.transaction_id)


@pytest.mark.anyio
async def test_a_non_matching_start_is_recorded_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = make_central_system(
        id_tags=(IdTagRecord(id_tag="TAG-B", parent_id_tag="OTHER"),),
    )
    async with connected(cs) as cp:
        await reserve(cs, id_tag="TAG-A", parent_id_tag="FLEET")
        with caplog.at_level(logging.WARNING, logger="ocpp16csms.reservation"):
            answer = await cp.call(start(id_tag="TAG-B"))
    transaction = await cs.stores.transactions.get(answer.transaction_id)
    assert transaction is not None
    assert transaction.start.reservation_id == 7
    assert (await record_of(cs)).status is ReservationState.ACCEPTED
    [warning] = warnings_of(caplog)
    assert "'TAG-A'" in warning.getMessage()
    assert warning.charge_point_id == "CP1"  # type: ignore[attr-defined]
    assert warning.message_id  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_a_start_on_another_connector_does_not_use_the_reservation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = make_central_system(id_tags=(IdTagRecord(id_tag="TAG-A"),))
    async with connected(cs) as cp:
        await reserve(cs, connector_id=2)
        with caplog.at_level(logging.WARNING, logger="ocpp16csms.reservation"):
            await cp.call(start(connector_id=1))
    assert (await record_of(cs)).status is ReservationState.ACCEPTED
    [warning] = warnings_of(caplog)
    assert "is for connector 2, not 1" in warning.getMessage()


@pytest.mark.anyio
async def test_a_start_after_expiry_does_not_use_the_reservation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = make_central_system(id_tags=(IdTagRecord(id_tag="TAG-A"),))
    async with connected(cs) as cp:
        await reserve(cs, expiry_date=T0 + timedelta(seconds=60))
        clock_of(cs).advance(60)
        with caplog.at_level(logging.WARNING, logger="ocpp16csms.reservation"):
            answer = await cp.call(start())
    assert await cs.stores.transactions.get(answer.transaction_id) is not None
    record = await record_of(cs)
    assert (record.status, record.transaction_id) == (ReservationState.EXPIRED, None)
    [warning] = warnings_of(caplog)
    assert "expired" in warning.getMessage()


@pytest.mark.anyio
async def test_a_start_with_an_unknown_or_finished_reservation_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = make_central_system(id_tags=(IdTagRecord(id_tag="TAG-A"),))
    async with connected(cs) as cp:
        await reserve(cs)
        await cs.reservation.cancel_reservation("CP1", 7)
        with caplog.at_level(logging.WARNING, logger="ocpp16csms.reservation"):
            await cp.call(start(reservation_id=99))
            await cp.call(start(meter_start=5))
    assert (await record_of(cs)).status is ReservationState.CANCELLED
    messages = [w.getMessage() for w in warnings_of(caplog)]
    assert len(messages) == 2
    assert "is unknown" in messages[0]
    assert "is Cancelled" in messages[1]


class FlakyReservationStore(MemoryReservationStore):
    """Fails lifecycle writes while ``broken`` is set."""

    broken = False

    async def save_if_unchanged(
        self, expected: ReservationRecord, record: ReservationRecord
    ) -> bool:
        if self.broken:
            raise StoreError("database unavailable")
        return await super().save_if_unchanged(expected, record)


@pytest.mark.anyio
async def test_a_store_failure_is_answered_internal_error_and_the_retry_uses_it() -> None:
    flaky = FlakyReservationStore()
    stores = attrs.evolve(memory_stores(), reservations=flaky)
    await stores.id_tags.save(IdTagRecord(id_tag="TAG-A"))
    cs = make_central_system(stores=stores)
    await cs.core.accept_charge_point("CP1")
    async with connected(cs) as cp:
        await reserve(cs)
        flaky.broken = True
        with pytest.raises(CallErrorReceived) as refused:
            await cp.call(start())
        flaky.broken = False
        answer = await cp.call(start())
    assert refused.value.code == "InternalError"
    record = await record_of(cs)
    assert (record.status, record.transaction_id) == (ReservationState.USED, answer.transaction_id)


# --- the view -------------------------------------------------------------------------------


def status_notification(status: ChargePointStatus, seconds: float, connector: int = 1) -> Any:
    return StatusNotificationRequest(
        connector_id=connector,
        error_code=ChargePointErrorCode.NO_ERROR,
        status=status,
        timestamp=T0 + timedelta(seconds=seconds),
    )


@pytest.mark.anyio
async def test_the_view_reflects_reserved_and_available() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        await cp.call(status_notification(ChargePointStatus.AVAILABLE, -10))
        await reserve(cs, 1, connector_id=1)
        await reserve(cs, 2, connector_id=0)
        views = await cs.reservation.reservation_view("CP1")
        assert [(v.reservation.reservation_id, v.connector_status, v.held) for v in views] == [
            (1, ChargePointStatus.AVAILABLE, None),  # reported before the reservation
            (2, None, None),
        ]
        await cp.call(status_notification(ChargePointStatus.RESERVED, 1))
        [view, _] = await cs.reservation.reservation_view("CP1")
        assert (view.connector_status, view.status_timestamp, view.held) == (
            ChargePointStatus.RESERVED,
            T0 + timedelta(seconds=1),
            True,
        )
        await cp.call(status_notification(ChargePointStatus.AVAILABLE, 2))
        [view, _] = await cs.reservation.reservation_view("CP1")
        assert (view.connector_status, view.held) == (ChargePointStatus.AVAILABLE, False)
        await cp.call(status_notification(ChargePointStatus.UNAVAILABLE, 3, connector=0))
        [_, view] = await cs.reservation.reservation_view("CP1")
        assert (view.connector_status, view.held) == (ChargePointStatus.UNAVAILABLE, False)
        await cs.reservation.cancel_reservation("CP1", 2)
    assert [v.reservation.reservation_id for v in await cs.reservation.reservation_view("CP1")] == [
        1
    ]


@pytest.mark.parametrize(
    ("connector", "status", "seconds", "held"),
    [
        (1, None, None, None),
        (1, ChargePointStatus.RESERVED, -5, True),
        (1, ChargePointStatus.RESERVED, 5, True),
        (1, ChargePointStatus.AVAILABLE, -5, None),
        (1, ChargePointStatus.AVAILABLE, 0, False),
        (1, ChargePointStatus.FAULTED, 5, False),
        (1, ChargePointStatus.UNAVAILABLE, 5, False),
        (1, ChargePointStatus.UNAVAILABLE, -5, None),
        (1, ChargePointStatus.CHARGING, 5, None),
        (0, None, None, None),
        (0, ChargePointStatus.AVAILABLE, 5, None),
        (0, ChargePointStatus.RESERVED, 5, None),
        (0, ChargePointStatus.FAULTED, 5, False),
        (0, ChargePointStatus.UNAVAILABLE, -5, None),
    ],
)
def test_what_held_says(
    connector: int, status: ChargePointStatus | None, seconds: float | None, held: bool | None
) -> None:
    record = attrs.evolve(
        new_reservation(
            charge_point_id="CP1",
            reservation_id=1,
            connector_id=connector,
            id_tag="A",
            expiry_date=EXPIRY,
            now=T0,
        ),
        status=ReservationState.ACCEPTED,
    )
    timestamp = None if seconds is None else T0 + timedelta(seconds=seconds)
    view = view_reservation(record, status, timestamp)
    assert (view.reservation, view.connector_status, view.status_timestamp) == (
        record,
        status,
        timestamp,
    )
    assert view.held is held


# --- the lifecycle as properties ------------------------------------------------------------

states = st.sampled_from(list(ReservationState))
events = st.sampled_from(list(ReservationEvent))
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


@st.composite
def records(draw: st.DrawFn, status: st.SearchStrategy[ReservationState] = states) -> Any:
    requested = draw(instants)
    return ReservationRecord(
        charge_point_id=draw(st.sampled_from(["CP1", "CP2"])),
        reservation_id=draw(st.integers(0, 5)),
        connector_id=draw(st.integers(0, 3)),
        id_tag=draw(st.text(alphabet="aAbB", min_size=1, max_size=3)),
        parent_id_tag=draw(st.none() | st.text(alphabet="pP", min_size=1, max_size=2)),
        expiry_date=draw(instants),
        status=draw(status),
        requested_at=requested,
        updated_at=requested,
    )


def test_the_table_has_no_move_out_of_a_final_state() -> None:
    assert {state for state, _ in RESERVATION_TRANSITIONS} == set(LIVE_STATES)
    assert set(ReservationState) == LIVE_STATES | FINAL_STATES
    assert not LIVE_STATES & FINAL_STATES


@given(records(), st.lists(st.tuples(events, instants), max_size=12))
def test_no_reservation_leaves_a_final_state(
    record: ReservationRecord, steps: Sequence[tuple[ReservationEvent, datetime]]
) -> None:
    final: ReservationState | None = record.status if record.status in FINAL_STATES else None
    for event, now in steps:
        if (record.status, event) not in RESERVATION_TRANSITIONS:
            with pytest.raises(ReservationTransitionError) as refused:
                move_reservation(record, event, now, transaction_id=1)
            assert (refused.value.state, refused.value.event) == (record.status, event)
            assert f"'{record.status.value}'" in str(refused.value)
            assert f"'{event.value}'" in str(refused.value)
            continue
        moved = move_reservation(record, event, now, transaction_id=1)
        assert final is None, f"{final} moved by {event}"
        assert moved.status is RESERVATION_TRANSITIONS[(record.status, event)]
        assert moved.updated_at == now
        record = moved
        if record.status in FINAL_STATES:
            final = record.status
    if final is not None:
        assert record.status is final


@given(records(), instants, instants)
def test_expiry_is_monotonic_in_time(
    record: ReservationRecord, t: datetime, later: datetime
) -> None:
    t, later = min(t, later), max(t, later)
    if expire_reservations([record], t):
        assert is_due_for_expiry(record, later)
        assert expire_reservations([record], later)


@given(st.lists(records(), max_size=8), instants)
def test_expire_reservations_expires_exactly_the_live_overdue_ones(
    batch: list[ReservationRecord], now: datetime
) -> None:
    expired = expire_reservations(batch, now)
    assert all(r.expiry_date <= now for r in expired)
    assert all(r.status is ReservationState.EXPIRED and r.updated_at == now for r in expired)
    due = [r for r in batch if r.status in LIVE_STATES and r.expiry_date <= now]
    assert [
        attrs.evolve(r, status=ReservationState.EXPIRED, updated_at=now) for r in due
    ] == expired
    assert expire_reservations(expired, now) == []


@given(records(), st.text(alphabet="aAbB", min_size=1, max_size=3))
def test_id_tags_match_case_insensitively(record: ReservationRecord, id_tag: str) -> None:
    assert reservation_matches(record, record.id_tag.swapcase())
    assert reservation_matches(record, id_tag) is (id_tag.casefold() == record.id_tag.casefold())
    if record.parent_id_tag is not None:
        assert reservation_matches(record, "zzz", record.parent_id_tag.upper())
    else:
        assert not reservation_matches(record, "zzz", "p")


def test_every_answer_has_its_event_and_state() -> None:
    requested = new_reservation(
        charge_point_id="CP1",
        reservation_id=1,
        connector_id=1,
        id_tag="A",
        expiry_date=EXPIRY,
        now=T0,
    )
    for status in ReservationStatus:
        moved = move_reservation(requested, event_for_answer(status), T0)
        assert moved.status.value == status.value
    with pytest.raises(ReservationTransitionError, match="'Expired' \\(a final state\\)"):
        move_reservation(
            attrs.evolve(requested, status=ReservationState.EXPIRED),
            ReservationEvent.USED,
            T0,
        )
