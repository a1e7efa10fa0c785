"""One conformance suite for every implementation of the store protocols.

Every test runs against every factory in ``STORE_FACTORIES`` (and, through the ``anyio``
marker, on both asyncio and trio). To check another implementation, add one line there: a
sync callable that returns a fresh, empty :class:`~ocpp16csms.stores.Stores`, or a context
manager that yields one (for implementations that need closing, e.g. a database file).

The docstrings of :mod:`ocpp16csms.stores.protocols` are the contract; DESIGN.md's "Data that
must never be lost" is why the idempotency rules matter: charge points retry transaction
messages until they are answered, so a retry must never create or add anything twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta, timezone

import anyio
import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _postgres import postgresql_stores_for_tests
from ocpp16csms import (
    Stores,
    memory_stores,
)
from ocpp16csms.datatypes import (
    KeyValue,
    MeterValue,
    SampledValue,
)
from ocpp16csms.enums import (
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    Location,
    Measurand,
    Phase,
    ReadingContext,
    Reason,
    RegistrationStatus,
    UnitOfMeasure,
    ValueFormat,
)
from ocpp16csms.stores import (
    BootInfo,
    ChargePointRecord,
    ChargePointStore,
    ConfigurationStore,
    ConnectorStatus,
    IdTagRecord,
    IdTagStore,
    StoredMeterValue,
    TransactionRecord,
    TransactionStart,
    TransactionStop,
    TransactionStore,
    UnconfirmedEnd,
    UnconfirmedEndCause,
    UnknownChargePoint,
    UnmatchedStop,
    UnmatchedStopCause,
)

StoreFactory = Callable[[], Stores | AbstractContextManager[Stores]]


@contextlib.contextmanager
def sqlite_stores_for_tests() -> Iterator[Stores]:
    """SQLite stores over a new database file in a temporary directory; closed, then removed."""
    import tempfile
    from pathlib import Path

    from ocpp16csms.stores.sqlite import sqlite_stores

    with tempfile.TemporaryDirectory() as directory:
        stores = sqlite_stores(Path(directory) / "csms.sqlite3")
        with contextlib.closing(stores):
            yield stores


STORE_FACTORIES: dict[str, StoreFactory] = {
    "memory": memory_stores,
    "sqlite": sqlite_stores_for_tests,
    "postgresql": postgresql_stores_for_tests,
}

MAX_TRANSACTION_ID = 2**31 - 1
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))
MINUS_ONE = timezone(timedelta(hours=-1))


@contextlib.contextmanager
def opened(factory: StoreFactory) -> Iterator[Stores]:
    """Fresh stores from ``factory``, closed afterwards when the factory is a context manager."""
    made = factory()
    if isinstance(made, Stores):
        yield made
    else:
        with made as stores:
            yield stores


@pytest.fixture(params=list(STORE_FACTORIES))
def stores(request: pytest.FixtureRequest) -> Iterator[Stores]:
    """A fresh, empty set of stores from each implementation under test."""
    with opened(STORE_FACTORIES[request.param]) as made:
        yield made


def at(minutes: float) -> datetime:
    """``minutes`` after T0, in UTC."""
    return T0 + timedelta(minutes=minutes)


# --- builders -------------------------------------------------------------------------------


def connector_status(
    connector_id: int = 1,
    timestamp: datetime = T0,
    status: ChargePointStatus = ChargePointStatus.AVAILABLE,
    info: str | None = None,
) -> ConnectorStatus:
    return ConnectorStatus(
        connector_id=connector_id,
        status=status,
        error_code=ChargePointErrorCode.NO_ERROR,
        timestamp=timestamp,
        info=info,
    )


def tx_start(
    charge_point_id: str = "CP1",
    connector_id: int = 1,
    id_tag: str = "TAG-A",
    meter_start: int = 1000,
    timestamp: datetime = T0,
    reservation_id: int | None = None,
    id_tag_status: AuthorizationStatus = AuthorizationStatus.ACCEPTED,
) -> TransactionStart:
    return TransactionStart(
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        id_tag=id_tag,
        meter_start=meter_start,
        timestamp=timestamp,
        reservation_id=reservation_id,
        id_tag_status=id_tag_status,
    )


def tx_stop(
    meter_stop: int = 2000,
    minutes: float = 30,
    reason: Reason | None = None,
    id_tag: str | None = None,
) -> TransactionStop:
    return TransactionStop(
        meter_stop=meter_stop, timestamp=at(minutes), reason=reason, id_tag=id_tag
    )


def meter_value(value: str, minutes: float = 0) -> MeterValue:
    return MeterValue(timestamp=at(minutes), sampled_value=(SampledValue(value=value),))


async def register(stores: Stores, *charge_point_ids: str) -> None:
    for charge_point_id in charge_point_ids:
        await stores.charge_points.save(ChargePointRecord(charge_point_id=charge_point_id))


def ids_of(records: Iterable[TransactionRecord]) -> set[int]:
    return {r.transaction_id for r in records}


# --- the protocols themselves ---------------------------------------------------------------


def test_every_store_satisfies_its_protocol(stores: Stores) -> None:
    assert isinstance(stores.charge_points, ChargePointStore)
    assert isinstance(stores.id_tags, IdTagStore)
    assert isinstance(stores.transactions, TransactionStore)
    assert isinstance(stores.configuration, ConfigurationStore)


@pytest.mark.anyio
@pytest.mark.parametrize("factory", list(STORE_FACTORIES.values()), ids=list(STORE_FACTORIES))
async def test_each_factory_call_gives_independent_stores(factory: StoreFactory) -> None:
    with opened(factory) as first, opened(factory) as second:
        await register(first, "CP1")
        await first.id_tags.save(IdTagRecord(id_tag="TAG"))
        assert await second.charge_points.get("CP1") is None
        assert await second.id_tags.get("TAG") is None


# --- ChargePointStore -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_charge_point_get_unknown_is_none(stores: Stores) -> None:
    assert await stores.charge_points.get("nobody") is None


@pytest.mark.anyio
async def test_charge_point_save_get_round_trip(stores: Stores) -> None:
    record = ChargePointRecord(
        charge_point_id="CP1",
        registration_status=RegistrationStatus.PENDING,
        security_profile=2,
        password_hash="salted$hash",
        boot=BootInfo(
            charge_point_vendor="Vendor",
            charge_point_model="Model",
            charge_point_serial_number="CPS-1",
            charge_box_serial_number="CBS-1",
            firmware_version="1.2.3",
            iccid="8931",
            imsi="2620",
            meter_type="AC",
            meter_serial_number="M-1",
        ),
        last_boot_at=at(-60).astimezone(PLUS_TWO),
        last_seen=at(-1),
    )
    await stores.charge_points.save(record)
    assert await stores.charge_points.get("CP1") == record
    assert await stores.charge_points.get("CP2") is None


@pytest.mark.anyio
async def test_charge_point_minimal_record_round_trip(stores: Stores) -> None:
    record = ChargePointRecord(charge_point_id="CP-min")
    await stores.charge_points.save(record)
    assert await stores.charge_points.get("CP-min") == record


@pytest.mark.anyio
async def test_charge_point_save_replaces(stores: Stores) -> None:
    first = ChargePointRecord(
        charge_point_id="CP1",
        registration_status=RegistrationStatus.ACCEPTED,
        security_profile=1,
        password_hash="old",
        boot=BootInfo(charge_point_vendor="V", charge_point_model="M"),
        last_boot_at=at(-5),
        last_seen=at(-1),
    )
    other = ChargePointRecord(charge_point_id="CP2", security_profile=3)
    await stores.charge_points.save(first)
    await stores.charge_points.save(other)
    replacement = ChargePointRecord(charge_point_id="CP1", security_profile=2, password_hash="new")
    await stores.charge_points.save(replacement)
    assert await stores.charge_points.get("CP1") == replacement
    assert await stores.charge_points.get("CP2") == other


@pytest.mark.anyio
async def test_record_boot_stores_boot_status_and_time(stores: Stores) -> None:
    original = ChargePointRecord(
        charge_point_id="CP1", security_profile=2, password_hash="h", last_seen=at(-3)
    )
    await stores.charge_points.save(original)
    boot = BootInfo(charge_point_vendor="V", charge_point_model="M", firmware_version="1.0")
    await stores.charge_points.record_boot("CP1", boot, RegistrationStatus.PENDING, at(0))
    assert await stores.charge_points.get("CP1") == attrs.evolve(
        original, boot=boot, registration_status=RegistrationStatus.PENDING, last_boot_at=at(0)
    )

    # The next boot replaces the boot information, the answer and the time.
    reboot = BootInfo(charge_point_vendor="V", charge_point_model="M", firmware_version="2.0")
    await stores.charge_points.record_boot("CP1", reboot, RegistrationStatus.ACCEPTED, at(10))
    assert await stores.charge_points.get("CP1") == attrs.evolve(
        original, boot=reboot, registration_status=RegistrationStatus.ACCEPTED, last_boot_at=at(10)
    )


@pytest.mark.anyio
async def test_record_boot_of_unknown_charge_point_raises(stores: Stores) -> None:
    await register(stores, "CP1")
    boot = BootInfo(charge_point_vendor="V", charge_point_model="M")
    with pytest.raises(UnknownChargePoint):
        await stores.charge_points.record_boot("nobody", boot, RegistrationStatus.ACCEPTED, T0)
    assert await stores.charge_points.get("nobody") is None
    assert await stores.charge_points.get("CP1") == ChargePointRecord(charge_point_id="CP1")


@pytest.mark.anyio
async def test_touch_only_moves_last_seen_forward(stores: Stores) -> None:
    original = ChargePointRecord(
        charge_point_id="CP1", security_profile=1, registration_status=RegistrationStatus.ACCEPTED
    )
    await stores.charge_points.save(original)

    async def last_seen() -> datetime | None:
        record = await stores.charge_points.get("CP1")
        assert record is not None
        assert attrs.evolve(record, last_seen=None) == original  # nothing else changes
        return record.last_seen

    await stores.charge_points.touch("CP1", at(0))
    assert await last_seen() == at(0)
    await stores.charge_points.touch("CP1", at(5))
    assert await last_seen() == at(5)
    await stores.charge_points.touch("CP1", at(2))  # earlier: ignored
    assert await last_seen() == at(5)
    # Instants compare, not wall clocks: 13:00+02:00 is 11:00 UTC, earlier than 12:05 UTC
    # although its wall clock reads later; 11:10-01:00 is 12:10 UTC, later although it reads
    # earlier.
    await stores.charge_points.touch("CP1", datetime(2024, 5, 1, 13, 0, tzinfo=PLUS_TWO))
    assert await last_seen() == at(5)
    await stores.charge_points.touch("CP1", datetime(2024, 5, 1, 11, 10, tzinfo=MINUS_ONE))
    assert await last_seen() == at(10)


@pytest.mark.anyio
async def test_touch_ignores_unknown_ids(stores: Stores) -> None:
    await register(stores, "CP1")
    await stores.charge_points.touch("nobody", at(1))
    assert await stores.charge_points.get("nobody") is None
    assert await stores.charge_points.get("CP1") == ChargePointRecord(charge_point_id="CP1")


@pytest.mark.anyio
async def test_connector_status_keeps_the_newest(stores: Stores) -> None:
    await register(stores, "CP1")
    cps = stores.charge_points
    first = connector_status(timestamp=at(0), status=ChargePointStatus.AVAILABLE)
    assert await cps.set_connector_status("CP1", first) is True
    assert await cps.connector_statuses("CP1") == {1: first}

    newer = connector_status(timestamp=at(5), status=ChargePointStatus.CHARGING)
    assert await cps.set_connector_status("CP1", newer) is True
    assert await cps.connector_statuses("CP1") == {1: newer}

    # An older status arriving later (e.g. a queued one) is not kept.
    late = connector_status(timestamp=at(3), status=ChargePointStatus.PREPARING)
    assert await cps.set_connector_status("CP1", late) is False
    assert await cps.connector_statuses("CP1") == {1: newer}

    # The same timestamp replaces.
    same_time = connector_status(timestamp=at(5), status=ChargePointStatus.FAULTED, info="x")
    assert await cps.set_connector_status("CP1", same_time) is True
    assert await cps.connector_statuses("CP1") == {1: same_time}


@pytest.mark.anyio
async def test_connector_status_compares_instants_not_wall_clocks(stores: Stores) -> None:
    await register(stores, "CP1")
    cps = stores.charge_points
    stored = connector_status(timestamp=T0, status=ChargePointStatus.AVAILABLE)
    assert await cps.set_connector_status("CP1", stored) is True
    # 13:00+02:00 is 11:00 UTC: older than 12:00 UTC.
    older = connector_status(
        timestamp=datetime(2024, 5, 1, 13, 0, tzinfo=PLUS_TWO), status=ChargePointStatus.FAULTED
    )
    assert await cps.set_connector_status("CP1", older) is False
    assert await cps.connector_statuses("CP1") == {1: stored}
    # 11:30-01:00 is 12:30 UTC: newer than 12:00 UTC.
    newer = connector_status(
        timestamp=datetime(2024, 5, 1, 11, 30, tzinfo=MINUS_ONE), status=ChargePointStatus.CHARGING
    )
    assert await cps.set_connector_status("CP1", newer) is True
    assert await cps.connector_statuses("CP1") == {1: newer}


@pytest.mark.anyio
async def test_connector_status_is_kept_per_connector(stores: Stores) -> None:
    await register(stores, "CP1")
    cps = stores.charge_points
    one = connector_status(connector_id=1, timestamp=at(10))
    two = connector_status(connector_id=2, timestamp=at(0), status=ChargePointStatus.CHARGING)
    whole = connector_status(connector_id=0, timestamp=at(-10), status=ChargePointStatus.FAULTED)
    assert await cps.set_connector_status("CP1", one) is True
    # Older than connector 1's status, but connector 2 and 0 have none yet.
    assert await cps.set_connector_status("CP1", two) is True
    assert await cps.set_connector_status("CP1", whole) is True
    assert await cps.connector_statuses("CP1") == {0: whole, 1: one, 2: two}

    two_older = connector_status(connector_id=2, timestamp=at(-1))
    assert await cps.set_connector_status("CP1", two_older) is False
    one_newer = connector_status(
        connector_id=1, timestamp=at(11), status=ChargePointStatus.RESERVED
    )
    assert await cps.set_connector_status("CP1", one_newer) is True
    assert await cps.connector_statuses("CP1") == {0: whole, 1: one_newer, 2: two}


@pytest.mark.anyio
async def test_connector_status_is_kept_per_charge_point(stores: Stores) -> None:
    await register(stores, "CP1", "CP2")
    cps = stores.charge_points
    first = connector_status(timestamp=at(10))
    other = connector_status(timestamp=at(0), status=ChargePointStatus.UNAVAILABLE)
    assert await cps.set_connector_status("CP1", first) is True
    assert await cps.set_connector_status("CP2", other) is True
    assert await cps.connector_statuses("CP1") == {1: first}
    assert await cps.connector_statuses("CP2") == {1: other}


@pytest.mark.anyio
async def test_connector_statuses_empty_when_none_reported(stores: Stores) -> None:
    await register(stores, "CP1")
    assert dict(await stores.charge_points.connector_statuses("CP1")) == {}
    assert dict(await stores.charge_points.connector_statuses("nobody")) == {}


# --- IdTagStore -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_id_tag_get_unknown_is_none(stores: Stores) -> None:
    assert await stores.id_tags.get("TAG") is None


@pytest.mark.anyio
async def test_id_tag_lookup_is_case_insensitive_and_keeps_spelling(stores: Stores) -> None:
    record = IdTagRecord(
        id_tag="AbC-12",
        status=AuthorizationStatus.BLOCKED,
        expiry_date=at(60 * 24),
        parent_id_tag="Parent",
    )
    await stores.id_tags.save(record)
    for spelling in ("AbC-12", "abc-12", "ABC-12", "aBc-12"):
        assert await stores.id_tags.get(spelling) == record
    assert await stores.id_tags.get("AbC-1") is None


@pytest.mark.anyio
async def test_id_tag_save_replaces_case_insensitively(stores: Stores) -> None:
    await stores.id_tags.save(IdTagRecord(id_tag="AbC"))
    await stores.id_tags.save(IdTagRecord(id_tag="other"))
    replacement = IdTagRecord(id_tag="abc", status=AuthorizationStatus.EXPIRED)
    await stores.id_tags.save(replacement)
    assert await stores.id_tags.get("ABC") == replacement  # the spelling saved last
    assert await stores.id_tags.get("OTHER") == IdTagRecord(id_tag="other")
    # Only one record for the tag: once deleted, no other spelling remains.
    assert await stores.id_tags.delete("ABC") is True
    assert await stores.id_tags.get("AbC") is None
    assert await stores.id_tags.get("abc") is None


@pytest.mark.anyio
async def test_id_tag_delete_returns_whether_known(stores: Stores) -> None:
    await stores.id_tags.save(IdTagRecord(id_tag="Tag1"))
    await stores.id_tags.save(IdTagRecord(id_tag="Tag2"))
    assert await stores.id_tags.delete("unknown") is False
    assert await stores.id_tags.delete("TAG1") is True
    assert await stores.id_tags.get("tag1") is None
    assert await stores.id_tags.delete("tag1") is False
    assert await stores.id_tags.get("TAG2") == IdTagRecord(id_tag="Tag2")


# --- TransactionStore: start ----------------------------------------------------------------


@pytest.mark.anyio
async def test_start_creates_a_transaction(stores: Stores) -> None:
    start = tx_start(reservation_id=4, id_tag_status=AuthorizationStatus.CONCURRENT_TX)
    record, created = await stores.transactions.start(start)
    assert created is True
    assert type(record.transaction_id) is int
    assert 1 <= record.transaction_id <= MAX_TRANSACTION_ID
    assert record.start == start
    assert record.stop is None
    assert record.active
    assert await stores.transactions.get(record.transaction_id) == record


@pytest.mark.anyio
async def test_start_ids_are_unique_and_in_range(stores: Stores) -> None:
    ids = []
    for n in range(40):
        record, created = await stores.transactions.start(
            tx_start(
                charge_point_id=f"CP{n % 3}",
                connector_id=n % 2 + 1,
                meter_start=n,
                timestamp=at(n),
            )
        )
        assert created is True
        ids.append(record.transaction_id)
    assert len(set(ids)) == len(ids)
    assert all(1 <= i <= MAX_TRANSACTION_ID for i in ids)
    # A stopped transaction's id is not reused either.
    await stores.transactions.stop(ids[0], tx_stop())
    record, _ = await stores.transactions.start(tx_start(meter_start=999, timestamp=at(999)))
    assert record.transaction_id not in ids


@pytest.mark.anyio
async def test_repeated_start_returns_the_same_transaction(stores: Stores) -> None:
    start = tx_start()
    record, created = await stores.transactions.start(start)
    assert created is True
    again, created_again = await stores.transactions.start(tx_start())
    assert created_again is False
    assert again == record
    assert ids_of(await stores.transactions.active()) == {record.transaction_id}


@pytest.mark.anyio
async def test_repeated_start_with_id_tag_in_other_case_is_a_retry(stores: Stores) -> None:
    record, _ = await stores.transactions.start(tx_start(id_tag="Tag-A"))
    for spelling in ("tag-a", "TAG-A", "tAG-a"):
        again, created = await stores.transactions.start(tx_start(id_tag=spelling))
        assert created is False
        assert again == record
        assert again.start.id_tag == "Tag-A"  # the stored spelling, not the retry's
    assert ids_of(await stores.transactions.active()) == {record.transaction_id}


@pytest.mark.anyio
async def test_start_retry_is_recognised_by_its_key_fields_only(stores: Stores) -> None:
    # reservation_id and id_tag_status are not among the fields the contract compares.
    record, _ = await stores.transactions.start(tx_start(reservation_id=1))
    again, created = await stores.transactions.start(
        tx_start(reservation_id=2, id_tag_status=AuthorizationStatus.BLOCKED)
    )
    assert created is False
    assert again == record
    assert again.start.reservation_id == 1


@pytest.mark.anyio
async def test_start_timestamp_of_the_same_instant_in_another_offset_is_a_retry(
    stores: Stores,
) -> None:
    record, _ = await stores.transactions.start(tx_start(timestamp=T0))
    again, created = await stores.transactions.start(tx_start(timestamp=T0.astimezone(PLUS_TWO)))
    assert created is False
    assert again == record


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("charge_point_id", "CP2"),
        ("connector_id", 2),
        ("id_tag", "TAG-B"),
        ("meter_start", 1001),
        ("timestamp", T0 + timedelta(seconds=1)),
    ],
)
async def test_start_differing_in_one_key_field_is_a_new_transaction(
    stores: Stores, field: str, value: object
) -> None:
    start = tx_start()
    different = attrs.evolve(start, **{field: value})
    record, _ = await stores.transactions.start(start)
    other, created = await stores.transactions.start(different)
    assert created is True
    assert other.transaction_id != record.transaction_id
    assert other.start == different
    assert await stores.transactions.get(record.transaction_id) == record
    assert await stores.transactions.get(other.transaction_id) == other
    # Each is still recognised as itself when retried.
    assert await stores.transactions.start(start) == (record, False)
    assert await stores.transactions.start(different) == (other, False)


@pytest.mark.anyio
async def test_start_retry_after_stop_returns_the_stopped_transaction(stores: Stores) -> None:
    record, _ = await stores.transactions.start(tx_start())
    stopped = await stores.transactions.stop(record.transaction_id, tx_stop())
    again, created = await stores.transactions.start(tx_start())
    assert created is False
    assert again == stopped
    assert not again.active
    assert list(await stores.transactions.active()) == []


# --- TransactionStore: get, stop, active ----------------------------------------------------


@pytest.mark.anyio
async def test_transaction_get_unknown_is_none(stores: Stores) -> None:
    assert await stores.transactions.get(1) is None
    record, _ = await stores.transactions.start(tx_start())
    unknown = 1 if record.transaction_id != 1 else 2
    assert await stores.transactions.get(unknown) is None


@pytest.mark.anyio
async def test_stop_closes_the_transaction(stores: Stores) -> None:
    record, _ = await stores.transactions.start(tx_start())
    stop = tx_stop(reason=Reason.EV_DISCONNECTED, id_tag="tag-a")
    stopped = await stores.transactions.stop(record.transaction_id, stop)
    assert stopped == attrs.evolve(record, stop=stop)
    assert stopped is not None
    assert not stopped.active
    assert await stores.transactions.get(record.transaction_id) == stopped
    assert list(await stores.transactions.active()) == []


@pytest.mark.anyio
async def test_second_stop_changes_nothing(stores: Stores) -> None:
    record, _ = await stores.transactions.start(tx_start())
    first = tx_stop(meter_stop=2000, minutes=30, reason=Reason.LOCAL)
    stopped = await stores.transactions.stop(record.transaction_id, first)
    second = tx_stop(meter_stop=3000, minutes=45, reason=Reason.REMOTE, id_tag="X")
    again = await stores.transactions.stop(record.transaction_id, second)
    assert again == stopped
    assert again is not None
    assert again.stop == first
    assert await stores.transactions.get(record.transaction_id) == stopped
    # A retry of the very same stop changes nothing either.
    assert await stores.transactions.stop(record.transaction_id, first) == stopped


@pytest.mark.anyio
async def test_stop_of_unknown_transaction_is_none(stores: Stores) -> None:
    record, _ = await stores.transactions.start(tx_start())
    unknown = record.transaction_id + 1
    assert await stores.transactions.stop(unknown, tx_stop()) is None
    assert await stores.transactions.get(unknown) is None
    assert await stores.transactions.get(record.transaction_id) == record


@pytest.mark.anyio
async def test_active_filters_by_charge_point_and_id_tag(stores: Stores) -> None:
    txs = stores.transactions
    one, _ = await txs.start(tx_start(charge_point_id="CP1", id_tag="TAG-A", connector_id=1))
    two, _ = await txs.start(tx_start(charge_point_id="CP1", id_tag="tag-b", connector_id=2))
    three, _ = await txs.start(tx_start(charge_point_id="CP2", id_tag="Tag-A", connector_id=1))
    four, _ = await txs.start(tx_start(charge_point_id="CP2", id_tag="TAG-B", connector_id=2))
    await txs.stop(four.transaction_id, tx_stop())
    a, b, c = one.transaction_id, two.transaction_id, three.transaction_id

    all_active = await txs.active()
    assert ids_of(all_active) == {a, b, c}
    assert sorted(all_active, key=lambda r: r.transaction_id) == sorted(
        [one, two, three], key=lambda r: r.transaction_id
    )
    assert ids_of(await txs.active(charge_point_id="CP1")) == {a, b}
    assert ids_of(await txs.active(charge_point_id="CP2")) == {c}
    assert ids_of(await txs.active(charge_point_id="CP3")) == set()
    assert ids_of(await txs.active(id_tag="tag-a")) == {a, c}
    assert ids_of(await txs.active(id_tag="TAG-B")) == {b}
    assert ids_of(await txs.active(id_tag="TAG")) == set()
    assert ids_of(await txs.active(charge_point_id="CP2", id_tag="TAG-A")) == {c}
    assert ids_of(await txs.active(charge_point_id="CP2", id_tag="tag-b")) == set()
    assert ids_of(await txs.active(charge_point_id="CP1", id_tag="Tag-B")) == {b}


@pytest.mark.anyio
async def test_active_is_empty_without_transactions(stores: Stores) -> None:
    assert list(await stores.transactions.active()) == []
    assert list(await stores.transactions.active(charge_point_id="CP1", id_tag="T")) == []


# --- TransactionStore: ended-unconfirmed and unmatched stops ---------------------------------


def unconfirmed_end(
    meter_stop: int = 1500, cause: UnconfirmedEndCause = UnconfirmedEndCause.BOOT
) -> UnconfirmedEnd:
    return UnconfirmedEnd(
        meter_stop=meter_stop,
        timestamp=at(20).astimezone(PLUS_TWO),
        cause=cause,
        detected_at=at(25),
    )


def unmatched(
    transaction_id: int = -1,
    meter_stop: int = 2000,
    minutes: float = 30,
    charge_point_id: str = "CP1",
    **fields: object,
) -> UnmatchedStop:
    values: dict[str, object] = {
        "charge_point_id": charge_point_id,
        "transaction_id": transaction_id,
        "stop": tx_stop(meter_stop=meter_stop, minutes=minutes),
        "cause": UnmatchedStopCause.NO_TRANSACTION_ID,
        "received_at": at(31),
    }
    values.update(fields)
    return UnmatchedStop(**values)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_end_unconfirmed_marks_and_keeps_the_transaction(stores: Stores) -> None:
    txs = stores.transactions
    record, _ = await txs.start(tx_start())
    other, _ = await txs.start(tx_start(connector_id=2))
    end = unconfirmed_end(cause=UnconfirmedEndCause.CONNECTOR_AVAILABLE)
    marked = await txs.end_unconfirmed(record.transaction_id, end)
    assert marked == attrs.evolve(record, unconfirmed_end=end)
    assert marked is not None
    assert marked.ended_unconfirmed
    assert not marked.active
    assert await txs.get(record.transaction_id) == marked
    assert ids_of(await txs.active()) == {other.transaction_id}
    assert list(await txs.unconfirmed()) == [marked]
    assert list(await txs.unconfirmed(charge_point_id="CP1")) == [marked]
    assert list(await txs.unconfirmed(charge_point_id="CP2")) == []


@pytest.mark.anyio
async def test_end_unconfirmed_changes_nothing_twice_nor_on_a_stopped_one(stores: Stores) -> None:
    txs = stores.transactions
    record, _ = await txs.start(tx_start())
    marked = await txs.end_unconfirmed(record.transaction_id, unconfirmed_end(1500))
    assert await txs.end_unconfirmed(record.transaction_id, unconfirmed_end(9999)) == marked
    stopped_one, _ = await txs.start(tx_start(connector_id=2))
    stopped = await txs.stop(stopped_one.transaction_id, tx_stop())
    assert await txs.end_unconfirmed(stopped_one.transaction_id, unconfirmed_end()) == stopped
    assert await txs.get(stopped_one.transaction_id) == stopped
    assert await txs.end_unconfirmed(record.transaction_id + 100, unconfirmed_end()) is None


@pytest.mark.anyio
async def test_a_late_stop_completes_an_ended_unconfirmed_transaction(stores: Stores) -> None:
    txs = stores.transactions
    record, _ = await txs.start(tx_start())
    end = unconfirmed_end()
    await txs.end_unconfirmed(record.transaction_id, end)
    stop = tx_stop(meter_stop=1800, reason=Reason.HARD_RESET)
    completed = await txs.stop(record.transaction_id, stop)
    assert completed == attrs.evolve(record, stop=stop, unconfirmed_end=end)
    assert completed is not None
    assert not completed.active
    assert not completed.ended_unconfirmed
    assert await txs.get(record.transaction_id) == completed
    assert list(await txs.unconfirmed()) == []
    assert list(await txs.active()) == []


@pytest.mark.anyio
async def test_unmatched_stops_are_kept_whole_and_once(stores: Stores) -> None:
    txs = stores.transactions
    data = (meter_value("1200", 5), meter_value("1900", 29))
    first = unmatched(
        -1,
        stop=tx_stop(meter_stop=2000, reason=Reason.POWER_LOSS, id_tag="Tag-A"),
        transaction_data=data,
    )
    assert await txs.add_unmatched_stop(first)
    # A retry (the same instant in another offset) is not kept twice, whatever else differs.
    retry = attrs.evolve(
        first,
        stop=attrs.evolve(first.stop, timestamp=first.stop.timestamp.astimezone(MINUS_ONE)),
        received_at=at(40),
    )
    assert not await txs.add_unmatched_stop(retry)
    # Different in transaction id, meterStop, timestamp or charge point: kept.
    others = [
        unmatched(77, cause=UnmatchedStopCause.UNKNOWN_TRANSACTION),
        unmatched(-1, meter_stop=2001),
        unmatched(-1, minutes=31),
        unmatched(-1, charge_point_id="CP2"),
    ]
    for other in others:
        assert await txs.add_unmatched_stop(other)
    assert list(await txs.unmatched_stops()) == [first, *others]
    assert list(await txs.unmatched_stops("CP1")) == [first, *others[:3]]
    assert list(await txs.unmatched_stops("CP2")) == [others[3]]
    assert list(await txs.unmatched_stops("CP3")) == []
    # Nothing of them reaches the transactions or their meter values.
    assert list(await txs.active()) == []
    assert list(await txs.meter_values("CP1")) == []


@pytest.mark.anyio
async def test_unmatched_stop_round_trips_every_field(stores: Stores) -> None:
    full = MeterValue(
        timestamp=at(3).astimezone(PLUS_TWO),
        sampled_value=(
            SampledValue(
                value="12.5",
                context=ReadingContext.TRANSACTION_END,
                format=ValueFormat.RAW,
                measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
                phase=Phase.L1,
                location=Location.OUTLET,
                unit=UnitOfMeasure.KWH,
            ),
        ),
    )
    for cause in UnmatchedStopCause:
        stop = unmatched(
            len(cause.value),
            cause=cause,
            stop=TransactionStop(
                meter_stop=7,
                timestamp=at(1).astimezone(MINUS_ONE),
                reason=Reason.DE_AUTHORIZED,
                id_tag="tag-é",
            ),
            transaction_data=(full,),
        )
        assert await stores.transactions.add_unmatched_stop(stop)
        assert (await stores.transactions.unmatched_stops())[-1] == stop
    bare = unmatched(123, stop=TransactionStop(meter_stop=0, timestamp=at(2)))
    assert await stores.transactions.add_unmatched_stop(bare)
    assert (await stores.transactions.unmatched_stops())[-1] == bare


# --- TransactionStore: meter values ---------------------------------------------------------


@pytest.mark.anyio
async def test_add_meter_values_counts_only_new_ones(stores: Stores) -> None:
    txs = stores.transactions
    record, _ = await txs.start(tx_start())
    tx = record.transaction_id
    v1, v2, v3, v4 = (meter_value(str(n), n) for n in range(1, 5))
    assert await txs.add_meter_values("CP1", 1, tx, [v1, v2]) == 2
    assert await txs.add_meter_values("CP1", 1, tx, [v1, v2]) == 0  # a retry adds nothing
    assert await txs.add_meter_values("CP1", 1, tx, [v2, v3]) == 1  # partly new
    assert await txs.add_meter_values("CP1", 1, tx, []) == 0
    # Any iterable, e.g. a generator (consumed once).
    assert await txs.add_meter_values("CP1", 1, tx, (v for v in [v3, v4, v1])) == 1
    stored = await txs.meter_values("CP1")
    assert [s.meter_value for s in stored] == [v1, v2, v3, v4]


@pytest.mark.anyio
async def test_same_meter_value_elsewhere_is_new(stores: Stores) -> None:
    txs = stores.transactions
    first, _ = await txs.start(tx_start(connector_id=1))
    second, _ = await txs.start(tx_start(connector_id=2))
    a, b = first.transaction_id, second.transaction_id
    value = meter_value("42")
    places = [("CP1", 1, a), ("CP1", 1, b), ("CP1", 2, a), ("CP1", 1, None), ("CP2", 1, a)]
    for place in places:
        assert await txs.add_meter_values(*place, [value]) == 1
    for place in places:
        assert await txs.add_meter_values(*place, [value]) == 0
    expected = [
        StoredMeterValue(
            charge_point_id=cp, connector_id=connector, transaction_id=tx, meter_value=value
        )
        for cp, connector, tx in places
    ]
    assert list(await txs.meter_values("CP1")) == expected[:4]
    assert list(await txs.meter_values("CP2")) == expected[4:]


@pytest.mark.anyio
async def test_meter_values_in_insertion_order_and_filtered(stores: Stores) -> None:
    txs = stores.transactions
    first, _ = await txs.start(tx_start(connector_id=1))
    second, _ = await txs.start(tx_start(connector_id=2))
    a, b = first.transaction_id, second.transaction_id
    # Timestamps deliberately not ascending: the order is the order of arrival.
    late, early, middle, clock = (
        meter_value("30", 30),
        meter_value("10", 10),
        meter_value("20", 20),
        meter_value("0", 0),
    )
    await txs.add_meter_values("CP1", 1, a, [late, early])
    await txs.add_meter_values("CP1", 2, b, [middle])
    await txs.add_meter_values("CP1", 0, None, [clock])
    await txs.add_meter_values("CP1", 1, a, [middle])
    await txs.add_meter_values("CP2", 1, None, [early])

    def as_tuples(values: Iterable[StoredMeterValue]) -> list[tuple[int, int | None, str]]:
        return [
            (v.connector_id, v.transaction_id, v.meter_value.sampled_value[0].value) for v in values
        ]

    assert as_tuples(await txs.meter_values("CP1")) == [
        (1, a, "30"),
        (1, a, "10"),
        (2, b, "20"),
        (0, None, "0"),
        (1, a, "20"),
    ]
    assert all(v.charge_point_id == "CP1" for v in await txs.meter_values("CP1"))
    assert as_tuples(await txs.meter_values("CP1", transaction_id=a)) == [
        (1, a, "30"),
        (1, a, "10"),
        (1, a, "20"),
    ]
    assert as_tuples(await txs.meter_values("CP1", transaction_id=b)) == [(2, b, "20")]
    assert as_tuples(await txs.meter_values("CP2")) == [(1, None, "10")]
    assert list(await txs.meter_values("CP2", transaction_id=a)) == []
    assert list(await txs.meter_values("CP3")) == []


@pytest.mark.anyio
async def test_meter_values_round_trip_every_field(stores: Stores) -> None:
    value = MeterValue(
        timestamp=at(1).astimezone(MINUS_ONE),
        sampled_value=(
            SampledValue(
                value="123.4",
                context=ReadingContext.SAMPLE_PERIODIC,
                format=ValueFormat.RAW,
                measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
                phase=Phase.L1,
                location=Location.OUTLET,
                unit=UnitOfMeasure.KWH,
            ),
            SampledValue(value="7"),
        ),
    )
    assert await stores.transactions.add_meter_values("CP1", 1, None, [value]) == 1
    assert list(await stores.transactions.meter_values("CP1")) == [
        StoredMeterValue(
            charge_point_id="CP1", connector_id=1, transaction_id=None, meter_value=value
        )
    ]


# --- ConfigurationStore ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_configuration_of_unknown_charge_point_is_empty(stores: Stores) -> None:
    assert dict(await stores.configuration.get("nobody")) == {}


@pytest.mark.anyio
async def test_configuration_put_then_get(stores: Stores) -> None:
    entries = [
        KeyValue(key="HeartbeatInterval", readonly=False, value="300"),
        KeyValue(key="NumberOfConnectors", readonly=True, value="2"),
        KeyValue(key="Unset", readonly=False),
    ]
    await stores.configuration.put("CP1", entries)
    assert dict(await stores.configuration.get("CP1")) == {e.key: e for e in entries}
    assert dict(await stores.configuration.get("CP2")) == {}


@pytest.mark.anyio
async def test_configuration_put_replaces_same_key(stores: Stores) -> None:
    heartbeat = KeyValue(key="HeartbeatInterval", readonly=False, value="300")
    connectors = KeyValue(key="NumberOfConnectors", readonly=True, value="2")
    await stores.configuration.put("CP1", [heartbeat, connectors])
    await stores.configuration.put("CP2", [heartbeat])
    new_heartbeat = KeyValue(key="HeartbeatInterval", readonly=True, value="60")
    extra = KeyValue(key="MeterValueSampleInterval", readonly=False, value="10")
    await stores.configuration.put("CP1", iter([new_heartbeat, extra]))
    assert dict(await stores.configuration.get("CP1")) == {
        "HeartbeatInterval": new_heartbeat,
        "NumberOfConnectors": connectors,
        "MeterValueSampleInterval": extra,
    }
    assert dict(await stores.configuration.get("CP2")) == {"HeartbeatInterval": heartbeat}


@pytest.mark.anyio
async def test_configuration_set_value_keeps_readonly_of_known_key(stores: Stores) -> None:
    await stores.configuration.put(
        "CP1",
        [
            KeyValue(key="Locked", readonly=True, value="a"),
            KeyValue(key="Open", readonly=False, value="b"),
            KeyValue(key="Other", readonly=True, value="c"),
        ],
    )
    await stores.configuration.set_value("CP1", "Locked", "A")
    await stores.configuration.set_value("CP1", "Open", "B")
    assert dict(await stores.configuration.get("CP1")) == {
        "Locked": KeyValue(key="Locked", readonly=True, value="A"),
        "Open": KeyValue(key="Open", readonly=False, value="B"),
        "Other": KeyValue(key="Other", readonly=True, value="c"),
    }


@pytest.mark.anyio
async def test_configuration_set_value_creates_unknown_key_not_readonly(stores: Stores) -> None:
    await stores.configuration.put("CP1", [KeyValue(key="Known", readonly=True, value="1")])
    await stores.configuration.set_value("CP1", "New", "x")
    await stores.configuration.set_value("CP2", "Fresh", "y")
    assert dict(await stores.configuration.get("CP1")) == {
        "Known": KeyValue(key="Known", readonly=True, value="1"),
        "New": KeyValue(key="New", readonly=False, value="x"),
    }
    assert dict(await stores.configuration.get("CP2")) == {
        "Fresh": KeyValue(key="Fresh", readonly=False, value="y"),
    }


# --- properties -----------------------------------------------------------------------------

# Small pools, so that equal start keys (and case-only differences of the id tag) are common.
start_submissions = st.builds(
    TransactionStart,
    charge_point_id=st.sampled_from(["CP1", "CP2"]),
    connector_id=st.integers(min_value=1, max_value=2),
    id_tag=st.sampled_from(["TAG", "tag", "Tag", "Other"]),
    meter_start=st.sampled_from([0, 1500]),
    timestamp=st.sampled_from([T0, T0 + timedelta(seconds=1)]),
    reservation_id=st.none() | st.just(7),
)


def start_key(start: TransactionStart) -> tuple[object, ...]:
    return (
        start.charge_point_id,
        start.connector_id,
        start.id_tag.casefold(),
        start.meter_start,
        start.timestamp,
    )


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("factory", list(STORE_FACTORIES.values()), ids=list(STORE_FACTORIES))
@given(submissions=st.lists(start_submissions, min_size=1, max_size=30))
def test_start_submissions_with_repeats(
    factory: StoreFactory, backend: str, submissions: list[TransactionStart]
) -> None:
    async def body() -> None:
        with opened(factory) as made:
            txs = made.transactions
            first_seen: dict[tuple[object, ...], int] = {}
            for submission in submissions:
                record, created = await txs.start(submission)
                key = start_key(submission)
                assert 1 <= record.transaction_id <= MAX_TRANSACTION_ID
                if key in first_seen:
                    assert created is False
                    assert record.transaction_id == first_seen[key]
                else:
                    assert created is True
                    assert record.transaction_id not in first_seen.values()
                    assert record.start == submission
                    first_seen[key] = record.transaction_id
            ids = list(first_seen.values())
            assert len(set(ids)) == len(ids) == len({start_key(s) for s in submissions})
            active = await txs.active()
            assert sorted(r.transaction_id for r in active) == sorted(ids)

    anyio.run(body, backend=backend)
