"""SQLite stores beyond the conformance suites: a file kept across reopening, and the edges.

The conformance suites (``"sqlite"`` in ``test_store_conformance.STORE_FACTORIES``) check the
contract on a fresh database file; these check what only a database has: data surviving a
close and reopen, several store sets on one file, the schema version, closing, id exhaustion.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import anyio
import attrs
import pytest

from ocpp16csms import Stores
from ocpp16csms.datatypes import (
    AuthorizationData,
    ChargingProfile,
    ChargingSchedule,
    ChargingSchedulePeriod,
    IdTagInfo,
    KeyValue,
    MeterValue,
    SampledValue,
)
from ocpp16csms.enums import (
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    RegistrationStatus,
)
from ocpp16csms.profiles.local_auth_list import LocalListState
from ocpp16csms.profiles.reservation.lifecycle import ReservationRecord
from ocpp16csms.profiles.smart_charging import InstalledChargingProfile
from ocpp16csms.stores import (
    BootInfo,
    ChargePointRecord,
    ConnectorStatus,
    IdTagRecord,
    StoreError,
    TransactionRecord,
    TransactionStart,
    TransactionStop,
    UnconfirmedEnd,
    UnconfirmedEndCause,
    UnmatchedStop,
    UnmatchedStopCause,
)
from ocpp16csms.stores.sqlite import sqlite_stores

pytestmark = pytest.mark.anyio

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))
START = TransactionStart(
    charge_point_id="CP1", connector_id=1, id_tag="Tag-A", meter_start=0, timestamp=T0
)


def raw(path: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(path)
    try:
        with connection:
            return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


async def test_a_file_database_keeps_everything_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "csms.sqlite3"
    charge_point = ChargePointRecord(
        charge_point_id="CP1",
        registration_status=RegistrationStatus.ACCEPTED,
        security_profile=2,
        password_hash="salted$hash",
        boot=BootInfo(charge_point_vendor="V", charge_point_model="M", iccid=""),
        last_boot_at=T0,
        last_seen=T0.astimezone(PLUS_TWO),
    )
    status = ConnectorStatus(
        connector_id=1,
        status=ChargePointStatus.CHARGING,
        error_code=ChargePointErrorCode.NO_ERROR,
        timestamp=T0,
    )
    tag = IdTagRecord(id_tag="Tag-A", expiry_date=T0, parent_id_tag="P")
    value = MeterValue(timestamp=T0, sampled_value=(SampledValue(value="1"),))
    key = KeyValue(key="HeartbeatInterval", readonly=True, value="300")
    local_list = LocalListState(
        version=3,
        entries=(
            AuthorizationData(
                id_tag="x", id_tag_info=IdTagInfo(status=AuthorizationStatus.ACCEPTED)
            ),
        ),
    )
    reservation = ReservationRecord(
        charge_point_id="CP1",
        reservation_id=1,
        connector_id=1,
        id_tag="Tag-A",
        expiry_date=T0,
        requested_at=T0,
        updated_at=T0,
    )
    profile = InstalledChargingProfile(
        charge_point_id="CP1",
        connector_id=1,
        profile=ChargingProfile(
            charging_profile_id=1,
            stack_level=0,
            charging_profile_purpose=ChargingProfilePurposeType.TX_DEFAULT_PROFILE,
            charging_profile_kind=ChargingProfileKindType.ABSOLUTE,
            charging_schedule=ChargingSchedule(
                charging_rate_unit=ChargingRateUnitType.A,
                charging_schedule_period=(ChargingSchedulePeriod(start_period=0, limit=6.0),),
            ),
        ),
    )

    async with sqlite_stores(path) as first:
        await first.charge_points.save(charge_point)
        await first.charge_points.set_connector_status("CP1", status)
        await first.id_tags.save(tag)
        transaction, _ = await first.transactions.start(START)
        tx = transaction.transaction_id
        await first.transactions.add_meter_values("CP1", 1, tx, [value])
        await first.configuration.put("CP1", [key])
        await first.require("local_lists").save("CP1", local_list)
        await first.require("reservations").save(reservation)
        await first.require("charging_profiles").install(profile)

    async with sqlite_stores(str(path)) as again:
        assert await again.charge_points.get("CP1") == charge_point
        assert await again.charge_points.connector_statuses("CP1") == {1: status}
        assert await again.id_tags.get("TAG-A") == tag
        assert await again.transactions.get(tx) == transaction
        assert [v.meter_value for v in await again.transactions.meter_values("CP1")] == [value]
        assert await again.configuration.get("CP1") == {key.key: key}
        assert await again.require("local_lists").get("CP1") == local_list
        assert await again.require("reservations").get("CP1", 1) == reservation
        assert list(await again.require("charging_profiles").installed("CP1")) == [profile]
        # Retries are still recognised after reopening, and ids go on from where they were.
        assert await again.transactions.start(START) == (transaction, False)
        assert await again.transactions.add_meter_values("CP1", 1, tx, [value]) == 0
        other, created = await again.transactions.start(attrs.evolve(START, meter_start=5))
        assert created
        assert other.transaction_id > tx

    assert raw(path, "PRAGMA journal_mode") == [("wal",)]
    assert raw(path, "SELECT version FROM schema_version") == [(3,)]


async def test_concurrent_calls_are_serialised_and_retries_stay_idempotent(
    tmp_path: Path,
) -> None:
    async with sqlite_stores(tmp_path / "csms.sqlite3") as stores:
        ids: list[int] = []

        async def submit(n: int) -> None:
            record, _ = await stores.transactions.start(attrs.evolve(START, meter_start=n % 50))
            ids.append(record.transaction_id)
            value = MeterValue(timestamp=T0, sampled_value=(SampledValue(value=str(n % 50)),))
            await stores.transactions.add_meter_values("CP1", 1, record.transaction_id, [value])

        async with anyio.create_task_group() as tasks:
            for n in range(200):
                tasks.start_soon(submit, n)
        assert len(set(ids)) == 50
        assert len(await stores.transactions.active()) == 50
        assert len(await stores.transactions.meter_values("CP1")) == 50


async def test_two_store_sets_on_one_file_share_the_retry_key(tmp_path: Path) -> None:
    path = tmp_path / "csms.sqlite3"
    async with sqlite_stores(path) as first, sqlite_stores(path) as second:
        results: list[tuple[TransactionRecord, bool]] = []

        async def submit(stores: Stores) -> None:
            results.append(await stores.transactions.start(START))

        async with anyio.create_task_group() as tasks:
            for _ in range(10):
                tasks.start_soon(submit, first)
                tasks.start_soon(submit, second)
        assert len({record.transaction_id for record, _ in results}) == 1
        assert [created for _, created in results].count(True) == 1


async def test_transaction_ids_end_at_2_31_minus_1(tmp_path: Path) -> None:
    path = tmp_path / "csms.sqlite3"
    async with sqlite_stores(path):
        pass
    raw(path, "INSERT INTO sqlite_sequence (name, seq) VALUES ('transactions', ?)", 2**31 - 2)
    async with sqlite_stores(path) as stores:
        last, created = await stores.transactions.start(START)
        assert created
        assert last.transaction_id == 2**31 - 1
        for _ in range(2):
            with pytest.raises(OverflowError):
                await stores.transactions.start(attrs.evolve(START, meter_start=1))
        assert list(await stores.transactions.active()) == [last]


async def test_closed_stores_raise_store_error() -> None:
    stores = sqlite_stores()
    await stores.id_tags.save(IdTagRecord(id_tag="A"))
    await stores.aclose()
    await stores.aclose()  # idempotent
    stores.close()
    with pytest.raises(StoreError, match="closed"):
        await stores.id_tags.get("A")
    await sqlite_stores().aclose()  # never opened


# The transactions table as schema version 1 wrote it (before ended-unconfirmed transactions).
_V1_TRANSACTIONS = """CREATE TABLE transactions (
    transaction_id INTEGER PRIMARY KEY AUTOINCREMENT,
    charge_point_id TEXT NOT NULL,
    connector_id INTEGER NOT NULL,
    id_tag TEXT NOT NULL,
    id_tag_key TEXT NOT NULL,
    meter_start INTEGER NOT NULL,
    start_timestamp TEXT NOT NULL,
    start_timestamp_us INTEGER NOT NULL,
    reservation_id INTEGER,
    id_tag_status TEXT NOT NULL,
    meter_stop INTEGER,
    stop_timestamp TEXT,
    stop_timestamp_us INTEGER,
    stop_reason TEXT,
    stop_id_tag TEXT,
    UNIQUE (charge_point_id, connector_id, id_tag_key, meter_start, start_timestamp_us)
)"""


async def test_a_version_1_database_is_migrated_and_keeps_its_transactions(
    tmp_path: Path,
) -> None:
    path = tmp_path / "csms.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version (version) VALUES (1)")
        db.execute(_V1_TRANSACTIONS)
        db.execute(
            "INSERT INTO transactions (charge_point_id, connector_id, id_tag, id_tag_key,"
            " meter_start, start_timestamp, start_timestamp_us, id_tag_status)"
            " VALUES ('CP1', 1, 'Tag-A', 'tag-a', 0, '2024-05-01T12:00:00Z', ?, 'Accepted')",
            ((T0 - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1),),
        )
    db.close()
    async with sqlite_stores(path) as stores:
        (open_one,) = await stores.transactions.active()
        assert open_one == TransactionRecord(transaction_id=1, start=START)
        # The retry key still recognises it; the new columns and table work.
        assert await stores.transactions.start(START) == (open_one, False)
        end = UnconfirmedEnd(
            meter_stop=0, timestamp=T0, cause=UnconfirmedEndCause.BOOT, detected_at=T0
        )
        marked = await stores.transactions.end_unconfirmed(1, end)
        assert marked == attrs.evolve(open_one, unconfirmed_end=end)
        unmatched = UnmatchedStop(
            charge_point_id="CP1",
            transaction_id=-1,
            stop=TransactionStop(meter_stop=5, timestamp=T0),
            cause=UnmatchedStopCause.NO_TRANSACTION_ID,
            received_at=T0,
        )
        assert await stores.transactions.add_unmatched_stop(unmatched)
        assert list(await stores.transactions.unmatched_stops()) == [unmatched]
    assert raw(path, "SELECT version FROM schema_version") == [(3,)]
    async with sqlite_stores(path) as again:  # opening a migrated database migrates nothing
        assert await again.transactions.get(1) == marked
    assert raw(path, "SELECT version FROM schema_version") == [(3,)]


async def test_a_database_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "csms.sqlite3"
    async with sqlite_stores(path):
        pass
    raw(path, "UPDATE schema_version SET version = 99")
    stores = sqlite_stores(path)
    with pytest.raises(StoreError, match="schema version 99"):
        await stores.open()
    await stores.aclose()


async def test_a_version_2_database_gains_the_pnc_tables_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "csms.sqlite3"
    async with sqlite_stores(path) as first:
        await first.id_tags.save(IdTagRecord(id_tag="A"))
    # What version 2 wrote: everything but the Plug & Charge tables.
    for table in ("pnc_installed_certificates", "pnc_signing_requests", "pnc_v2g_certificates"):
        raw(path, f"DROP TABLE {table}")
    raw(path, "UPDATE schema_version SET version = 2")
    async with sqlite_stores(path) as again:
        assert await again.id_tags.get("A") == IdTagRecord(id_tag="A")
        store = again.require("pnc_certificates")
        assert await store.signing_requests() == []
        assert await store.v2g_expiring(T0) == []
    assert raw(path, "SELECT version FROM schema_version") == [(3,)]


async def test_an_unopenable_database_is_a_store_error(tmp_path: Path) -> None:
    stores = sqlite_stores(tmp_path / "missing" / "csms.sqlite3")
    with pytest.raises(StoreError):
        await stores.charge_points.get("CP1")
    await stores.aclose()


async def test_a_naive_datetime_is_refused_and_nothing_kept() -> None:
    async with sqlite_stores() as stores:
        with pytest.raises(ValueError, match="naive"):
            await stores.id_tags.save(IdTagRecord(id_tag="A", expiry_date=datetime(2024, 1, 1)))
        assert await stores.id_tags.get("A") is None


async def test_a_value_outside_its_enumeration_reads_back_as_text() -> None:
    # A relaxed validation policy can let such a value through; the row must stay readable.
    async with sqlite_stores() as stores:
        status = ConnectorStatus(
            connector_id=1,
            status="VendorSpecific",  # type: ignore[arg-type]
            error_code=ChargePointErrorCode.NO_ERROR,
            timestamp=T0,
        )
        await stores.charge_points.set_connector_status("CP1", status)
        assert await stores.charge_points.connector_statuses("CP1") == {1: status}


@pytest.mark.anyio
async def test_a_central_system_runs_a_charging_session_on_sqlite(tmp_path: Path) -> None:
    import anyio

    from ocpp16csms import (
        CentralSystem,
        ChargePointRecord,
        IdTagRecord,
        sqlite_stores,
    )
    from ocpp16csms.messages import RegistrationStatus
    from ocpp16csms.testing import (
        ChargePointSimulator,
        memory_connection_pair,
    )

    async with sqlite_stores(tmp_path / "csms.db") as stores:
        await stores.charge_points.save(
            ChargePointRecord(
                charge_point_id="CP1", registration_status=RegistrationStatus.ACCEPTED
            )
        )
        await stores.id_tags.save(IdTagRecord(id_tag="TAG"))
        cs = CentralSystem(stores)
        cs_end, cp_end = memory_connection_pair()
        async with anyio.create_task_group() as group:
            group.start_soon(cs.serve, cs_end, "CP1")
            async with ChargePointSimulator("CP1", cp_end).running() as cp:
                await cp.boot()
                session = await cp.charge(1, "tag", meter_values=2)
        record = await stores.transactions.get(session.transaction_id)
        assert record is not None
        assert record.stop is not None
        assert record.stop.meter_stop == session.meter_stop
        assert len(await stores.transactions.meter_values("CP1")) == 2
