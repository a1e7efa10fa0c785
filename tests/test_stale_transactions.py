"""Transactions whose StopTransaction never came (errata 3.36, 3.82): the pure rule as
properties, then the central system marking them ended-unconfirmed on a fake clock; and the
energy of a transaction (``cs.core.transaction_energy``)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import BOOT, T0, FakeClock, connected, make_central_system, wait_until
from ocpp16csms import CentralSystem, CentralSystemOptions
from ocpp16csms.messages import (
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    Measurand,
    MeterValue,
    MeterValuesRequest,
    Reason,
    RemoteStopTransactionRequest,
    SampledValue,
    StartTransactionRequest,
    StatusNotificationRequest,
    StopTransactionRequest,
    UnitOfMeasure,
)
from ocpp16csms.profiles.core import (
    EnergySource,
    StaleSuspicion,
    clear_transaction,
    is_due,
    stale_transactions,
    suspect_transactions,
    unconfirmed_end,
)
from ocpp16csms.stores import (
    IdTagRecord,
    TransactionRecord,
    TransactionStart,
    TransactionStop,
    UnconfirmedEnd,
    UnconfirmedEndCause,
)

GRACE = timedelta(minutes=5)
BOOT_CAUSE = UnconfirmedEndCause.BOOT
AVAILABLE = UnconfirmedEndCause.CONNECTOR_AVAILABLE


def record(
    transaction_id: int,
    *,
    charge_point_id: str = "CP1",
    connector_id: int = 1,
    stopped: bool = False,
    marked: bool = False,
    meter_start: int = 1000,
) -> TransactionRecord:
    start = TransactionStart(
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        id_tag="TAG1",
        meter_start=meter_start,
        timestamp=T0,
    )
    return TransactionRecord(
        transaction_id=transaction_id,
        start=start,
        stop=TransactionStop(meter_stop=meter_start, timestamp=T0) if stopped else None,
        unconfirmed_end=(
            UnconfirmedEnd(meter_stop=meter_start, timestamp=T0, cause=BOOT_CAUSE, detected_at=T0)
            if marked
            else None
        ),
    )


def register(wh: str, minutes: float, unit: UnitOfMeasure | None = None) -> MeterValue:
    return MeterValue(
        timestamp=T0 + timedelta(minutes=minutes),
        sampled_value=(
            SampledValue(value=wh, measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER, unit=unit),
        ),
    )


# -- the pure rule -------------------------------------------------------------------------------

records_strategy = st.lists(
    st.builds(
        record,
        st.integers(1, 30),
        charge_point_id=st.sampled_from(["CP1", "CP2"]),
        connector_id=st.integers(1, 3),
        stopped=st.booleans(),
        marked=st.booleans(),
    ),
    max_size=12,
    unique_by=lambda r: r.transaction_id,
)
offsets = st.integers(-3600, 3600).map(lambda s: timedelta(seconds=s))
graces = st.integers(1, 3600).map(lambda s: timedelta(seconds=s))


@given(records_strategy, st.none() | st.integers(1, 3))
def test_a_suspicion_names_exactly_the_active_transactions_concerned(
    records: list[TransactionRecord], connector_id: int | None
) -> None:
    cause = BOOT_CAUSE if connector_id is None else AVAILABLE
    suspicion = suspect_transactions("CP1", cause, T0, records, connector_id=connector_id)
    expected = {
        r.transaction_id
        for r in records
        if r.active
        and r.start.charge_point_id == "CP1"
        and connector_id in (None, r.start.connector_id)
    }
    if not expected:
        assert suspicion is None
    else:
        assert suspicion == StaleSuspicion(
            charge_point_id="CP1",
            cause=cause,
            observed_at=T0,
            transaction_ids=frozenset(expected),
            connector_id=connector_id,
        )


@given(records_strategy, records_strategy, offsets, graces)
def test_stale_transactions_are_suspected_still_active_and_due(
    before: list[TransactionRecord],
    now_records: list[TransactionRecord],
    offset: timedelta,
    grace: timedelta,
) -> None:
    suspicion = suspect_transactions("CP1", BOOT_CAUSE, T0, before)
    if suspicion is None:
        return
    now = T0 + grace + offset
    stale = stale_transactions(suspicion, now_records, now, grace)
    if offset < timedelta(0):
        assert stale == ()  # never before the grace period has passed
        assert not is_due(suspicion, now, grace)
        return
    assert is_due(suspicion, now, grace)
    assert [r.transaction_id for r in stale] == sorted(
        r.transaction_id
        for r in now_records
        if r.transaction_id in suspicion.transaction_ids
        and r.active
        and r.start.charge_point_id == "CP1"
    )
    # Monotonic in time: what is stale now is stale later, with the same records.
    assert stale_transactions(suspicion, now_records, now + timedelta(days=1), grace) == stale


@given(records_strategy, graces)
def test_a_transaction_stopped_in_the_grace_period_is_never_stale(
    records: list[TransactionRecord], grace: timedelta
) -> None:
    suspicion = suspect_transactions("CP1", BOOT_CAUSE, T0, records)
    if suspicion is None:
        return
    stopped = [
        TransactionRecord(
            transaction_id=r.transaction_id,
            start=r.start,
            stop=TransactionStop(meter_stop=1, timestamp=T0),
        )
        for r in records
    ]
    assert stale_transactions(suspicion, stopped, T0 + grace * 2, grace) == ()


@given(records_strategy, st.integers(1, 30))
def test_a_cleared_transaction_is_never_stale(
    records: list[TransactionRecord], transaction_id: int
) -> None:
    suspicion = suspect_transactions("CP1", BOOT_CAUSE, T0, records)
    if suspicion is None:
        return
    cleared = clear_transaction(suspicion, transaction_id)
    rest = suspicion.transaction_ids - {transaction_id}
    assert (cleared is None) is (not rest)
    if cleared is not None:
        assert cleared.transaction_ids == rest
        stale = stale_transactions(cleared, records, T0 + GRACE, GRACE)
        assert transaction_id not in {r.transaction_id for r in stale}


readings = st.lists(
    st.tuples(st.integers(0, 10**9), st.integers(-60, 600)).map(
        lambda t: register(str(t[0]), t[1], UnitOfMeasure.WH)
    ),
    max_size=8,
)


@given(readings, st.integers(0, 10**6))
def test_an_unconfirmed_end_is_the_latest_reading_or_the_start(
    values: list[MeterValue], meter_start: int
) -> None:
    rec = record(1, meter_start=meter_start)
    end = unconfirmed_end(rec, values, cause=AVAILABLE, detected_at=T0 + GRACE)
    assert (end.cause, end.detected_at) == (AVAILABLE, T0 + GRACE)
    if not values:
        assert (end.meter_stop, end.timestamp) == (meter_start, T0)
        return
    latest = max(v.timestamp for v in values)
    at_latest = [int(v.sampled_value[0].value) for v in values if v.timestamp == latest]
    assert end.timestamp == latest
    assert end.meter_stop in at_latest


def test_an_unconfirmed_end_reads_units_and_rounds_down() -> None:
    rec = record(1)
    values = [register("1.5", 10, UnitOfMeasure.KWH), register("2.0006", 20, UnitOfMeasure.KWH)]
    end = unconfirmed_end(rec, values, cause=BOOT_CAUSE, detected_at=T0)
    assert (end.meter_stop, end.timestamp) == (2000, T0 + timedelta(minutes=20))
    # A value no meter register holds is not used: the start stands.
    huge = unconfirmed_end(rec, [register("1e30", 5)], cause=BOOT_CAUSE, detected_at=T0)
    assert (huge.meter_stop, huge.timestamp) == (1000, T0)


# -- the central system, on a fake clock -----------------------------------------------------------


def clock_of(cs: CentralSystem) -> FakeClock:
    clock = cs.clock
    assert isinstance(clock, FakeClock)
    return clock


def start_request(connector_id: int = 1, meter_start: int = 1000) -> StartTransactionRequest:
    return StartTransactionRequest(
        connector_id=connector_id, id_tag="TAG1", meter_start=meter_start, timestamp=T0
    )


def status(
    connector_id: int, state: ChargePointStatus, minutes: float
) -> StatusNotificationRequest:
    return StatusNotificationRequest(
        connector_id=connector_id,
        error_code=ChargePointErrorCode.NO_ERROR,
        status=state,
        timestamp=T0 + timedelta(minutes=minutes),
    )


TAGS = (IdTagRecord(id_tag="TAG1"),)


@pytest.mark.anyio
async def test_a_transaction_lost_in_a_hard_reset_ends_unconfirmed_after_the_grace() -> None:
    cs = make_central_system(id_tags=TAGS, concurrent_tx=True)
    clock = clock_of(cs)
    async with connected(cs) as cp:
        started = await cp.call(start_request())
        tx = started.transaction_id
        await cp.call(
            MeterValuesRequest(
                connector_id=1,
                transaction_id=tx,
                meter_value=(register("1400", 10, UnitOfMeasure.WH),),
            )
        )
        # A hard reset: the charge point boots again and never sends the StopTransaction.
        await cp.call(BOOT)
        assert [s.transaction_ids for s in cs.core.stale_suspicions] == [frozenset({tx})]
        clock.advance(GRACE.total_seconds() - 1)
        assert await cs.core.check_stale_transactions() == []
        clock.advance(1)
        (marked,) = await cs.core.check_stale_transactions()
        # The id tag is free again: the transaction no longer counts as running.
        again = await cp.call(start_request(connector_id=2, meter_start=1400))
        assert again.id_tag_info.status is AuthorizationStatus.ACCEPTED
    assert marked.transaction_id == tx
    assert marked.unconfirmed_end == UnconfirmedEnd(
        meter_stop=1400,
        timestamp=T0 + timedelta(minutes=10),
        cause=UnconfirmedEndCause.BOOT,
        detected_at=clock.now,
    )
    assert await cs.stores.transactions.get(tx) == marked  # kept, never deleted
    assert await cs.core.unconfirmed_transactions("CP1") == [marked]
    assert cs.core.stale_suspicions == ()
    assert await cs.core.check_stale_transactions() == []  # nothing twice


@pytest.mark.anyio
async def test_a_late_stop_transaction_completes_an_unconfirmed_one() -> None:
    cs = make_central_system(id_tags=TAGS)
    clock = clock_of(cs)
    async with connected(cs) as cp:
        tx = (await cp.call(start_request())).transaction_id
        await cp.call(BOOT)
        clock.advance(GRACE.total_seconds())
        (marked,) = await cs.core.check_stale_transactions()
        late = StopTransactionRequest(
            meter_stop=1800,
            timestamp=T0 + timedelta(minutes=30),
            transaction_id=tx,
            reason=Reason.HARD_RESET,
            transaction_data=(register("1800", 30, UnitOfMeasure.WH),),
        )
        await cp.call(late)
    completed = await cs.stores.transactions.get(tx)
    assert completed is not None
    assert completed.stop == TransactionStop(
        meter_stop=1800, timestamp=T0 + timedelta(minutes=30), reason=Reason.HARD_RESET
    )
    assert completed.unconfirmed_end == marked.unconfirmed_end  # the history stays
    assert await cs.core.unconfirmed_transactions() == []
    assert await cs.core.unmatched_stops() == []
    energy = await cs.core.transaction_energy(tx)
    assert energy is not None
    assert (energy.energy_wh, energy.source) == (Decimal(800), EnergySource.METER_STOP)


@pytest.mark.anyio
async def test_an_unconfirmed_transaction_can_still_be_stopped_remotely() -> None:
    # Marked on a sign, not on its word: if the charge point still runs it, the host may stop it.
    cs = make_central_system(id_tags=TAGS)
    async with connected(cs) as cp:
        tx = (await cp.call(start_request())).transaction_id
        await cp.call(BOOT)
        clock_of(cs).advance(GRACE.total_seconds())
        assert len(await cs.core.check_stale_transactions()) == 1
        await cs.core.remote_stop_transaction("CP1", tx)
    assert [r.transaction_id for r in cp.received_of(RemoteStopTransactionRequest)] == [tx]


@pytest.mark.anyio
async def test_a_stop_within_the_grace_period_leaves_nothing_to_mark() -> None:
    cs = make_central_system(id_tags=TAGS)
    clock = clock_of(cs)
    async with connected(cs) as cp:
        tx = (await cp.call(start_request())).transaction_id
        await cp.call(BOOT)
        clock.advance(60)
        await cp.call(StopTransactionRequest(meter_stop=1100, timestamp=T0, transaction_id=tx))
        clock.advance(GRACE.total_seconds())
        assert await cs.core.check_stale_transactions() == []
    stored = await cs.stores.transactions.get(tx)
    assert stored is not None
    assert stored.unconfirmed_end is None


@pytest.mark.anyio
async def test_meter_values_after_a_boot_show_the_transaction_still_runs() -> None:
    # Some charge points send a BootNotification on every reconnection and go on charging.
    cs = make_central_system(id_tags=TAGS)
    clock = clock_of(cs)
    async with connected(cs) as cp:
        running = (await cp.call(start_request(connector_id=1))).transaction_id
        lost = (await cp.call(start_request(connector_id=2))).transaction_id
        await cp.call(BOOT)
        clock.advance(30)
        await cp.call(
            MeterValuesRequest(
                connector_id=1,
                transaction_id=running,
                meter_value=(register("1200", 1, UnitOfMeasure.WH),),
            )
        )
        assert [s.transaction_ids for s in cs.core.stale_suspicions] == [frozenset({lost})]
        clock.advance(GRACE.total_seconds())
        marked = await cs.core.check_stale_transactions()
    assert [r.transaction_id for r in marked] == [lost]
    still = await cs.stores.transactions.get(running)
    assert still is not None
    assert still.active


@pytest.mark.anyio
async def test_available_marks_only_that_connectors_transaction() -> None:
    cs = make_central_system(id_tags=TAGS)
    clock = clock_of(cs)
    async with connected(cs) as cp:
        one = (await cp.call(start_request(connector_id=1))).transaction_id
        two = (await cp.call(start_request(connector_id=2))).transaction_id
        await cp.call(status(0, ChargePointStatus.AVAILABLE, 1))  # the charge point: no sign
        await cp.call(status(2, ChargePointStatus.CHARGING, 1))
        await cp.call(status(1, ChargePointStatus.AVAILABLE, 2))
        # An older status that arrives late says nothing about now.
        await cp.call(status(2, ChargePointStatus.AVAILABLE, 0))
        clock.advance(GRACE.total_seconds())
        marked = await cs.core.check_stale_transactions()
        # A transaction started after the sign is not suspected.
        three = (await cp.call(start_request(connector_id=1, meter_start=5))).transaction_id
        clock.advance(GRACE.total_seconds())
        assert await cs.core.check_stale_transactions() == []
    assert [r.transaction_id for r in marked] == [one]
    assert marked[0].unconfirmed_end is not None
    assert marked[0].unconfirmed_end.cause is UnconfirmedEndCause.CONNECTOR_AVAILABLE
    active = await cs.stores.transactions.active(charge_point_id="CP1")
    assert [r.transaction_id for r in active] == [two, three]


@pytest.mark.anyio
async def test_without_a_grace_period_nothing_is_ever_marked() -> None:
    cs = make_central_system(id_tags=TAGS, stale_transaction_grace=None)
    clock = clock_of(cs)
    async with connected(cs) as cp:
        await cp.call(start_request())
        await cp.call(BOOT)
        await cp.call(status(1, ChargePointStatus.AVAILABLE, 1))
        clock.advance(10 * 86400)
        assert await cs.core.check_stale_transactions() == []
    assert cs.core.stale_suspicions == ()
    assert len(await cs.stores.transactions.active()) == 1


@pytest.mark.anyio
async def test_the_periodic_job_marks_them_while_the_central_system_runs() -> None:
    cs = make_central_system(id_tags=TAGS, stale_transaction_interval=0.01)
    clock = clock_of(cs)
    async with cs, connected(cs) as cp:
        tx = (await cp.call(start_request())).transaction_id
        await cp.call(BOOT)
        clock.advance(GRACE.total_seconds())

        async def marked() -> bool:
            stored = await cs.stores.transactions.get(tx)
            return stored is not None and stored.ended_unconfirmed

        with anyio.fail_after(5):
            while not await marked():
                await anyio.sleep(0.01)
    await wait_until(lambda: not cs.is_connected("CP1"))


def test_the_stale_transaction_options_are_checked() -> None:
    assert CentralSystemOptions().stale_transaction_grace == 300.0
    assert CentralSystemOptions(stale_transaction_grace=None).stale_transaction_grace is None
    for bad in (0, -1.0, float("nan"), True):
        with pytest.raises(ValueError, match="stale_transaction_grace"):
            CentralSystemOptions(stale_transaction_grace=bad)
    with pytest.raises(ValueError, match="stale_transaction_interval"):
        CentralSystemOptions(stale_transaction_interval=0)


# -- the energy of a transaction --------------------------------------------------------------


@pytest.mark.anyio
async def test_transaction_energy_reads_the_stored_transaction() -> None:
    cs = make_central_system(id_tags=TAGS)
    async with connected(cs) as cp:
        session = await cp.charge(1, "TAG1", meter_values=3, meter_start=10_000)
        running = (await cp.call(start_request(connector_id=2, meter_start=0))).transaction_id
        await cp.call(
            MeterValuesRequest(
                connector_id=2,
                transaction_id=running,
                meter_value=(register("0.25", 5, UnitOfMeasure.KWH),),
            )
        )
    stopped = await cs.core.transaction_energy(session.transaction_id)
    assert stopped is not None
    assert stopped.energy_wh == Decimal(750)
    assert stopped.source is EnergySource.METER_STOP
    assert [r.value for r in stopped.readings] == [
        Decimal(10_250),
        Decimal(10_500),
        Decimal(10_750),
    ]
    so_far = await cs.core.transaction_energy(running)
    assert so_far is not None
    assert (so_far.energy_wh, so_far.source) == (Decimal(250), EnergySource.READINGS)
    assert so_far.end.timestamp == T0 + timedelta(minutes=5)
    assert await cs.core.transaction_energy(running + 100) is None


@pytest.mark.anyio
async def test_transaction_energy_counts_only_that_charge_points_values() -> None:
    cs = make_central_system(charge_points=("CP1", "CP2"), id_tags=TAGS)
    async with connected(cs, "CP1") as cp1:
        tx = (await cp1.call(start_request())).transaction_id
    async with connected(cs, "CP2") as cp2:
        # Another charge point's values under the same id are not this transaction's.
        await cp2.call(
            MeterValuesRequest(
                connector_id=1,
                transaction_id=tx,
                meter_value=(register("99999", 5, UnitOfMeasure.WH),),
            )
        )
    energy = await cs.core.transaction_energy(tx)
    assert energy is not None
    assert (energy.energy_wh, energy.source) == (Decimal(0), EnergySource.METER_START_ONLY)
