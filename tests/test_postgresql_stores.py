"""PostgreSQL stores beyond the conformance suites: what only a server database has.

The conformance suites (``"postgresql"`` in ``STORE_FACTORIES``) check the contract. These check
values at the edges of what OCPP allows (NUL and lone surrogates in strings, 64-bit integers,
offsets of almost a day at the ends of the datetime range), data surviving a reopening, the
versioned schema (in-place upgrade, concurrent starts, a newer schema refused), transaction id
exhaustion, concurrent retries within one process, and failures reported as ``StoreError``.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone

import anyio
import psycopg
import pytest

from _postgres import drop_database, fresh_database
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
    HashAlgorithm,
    Reason,
    RegistrationStatus,
)
from ocpp16csms.profiles.local_auth_list import LocalListState
from ocpp16csms.profiles.plug_and_charge import (
    CertificateHashData,
    CertificateSigningUse,
    CustomData,
    GetCertificateIdUse,
    InstalledCertificate,
    SigningRequest,
    V2GCertificateState,
)
from ocpp16csms.profiles.reservation.lifecycle import (
    ReservationRecord,
    ReservationState,
)
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
from ocpp16csms.stores.postgresql import (
    PostgresStores,
    postgresql_stores,
)
from ocpp16csms.stores.postgresql._schema import (
    LATEST_VERSION,
    migrate,
)

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))
LATEST = datetime(
    9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(-timedelta(hours=23, minutes=59))
)
EARLIEST = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=23, minutes=59)))
ODD_OFFSET = datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=5, seconds=15)))
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
# NUL and lone surrogates cannot be PostgreSQL text; U+0001 is the escape character, and the
# last one looks like an escaped "A" but is not.
HARD = ["a\x00b", "\ud800", "x\udfffy", "\x01", "\x010041", "é😀", ""]


@pytest.fixture
def dsn() -> Iterator[str]:
    """A new database holding the current schema; dropped afterwards."""
    made, name = fresh_database()
    yield made
    drop_database(name)


@pytest.fixture
def bare_dsn() -> Iterator[str]:
    """A new, empty database (no schema); dropped afterwards."""
    made, name = fresh_database(migrated=False)
    yield made
    drop_database(name)


@pytest.fixture
async def stores(dsn: str) -> AsyncIterator[PostgresStores]:
    async with postgresql_stores(dsn, pool_size=3) as made:
        yield made


def same(a: datetime | None, b: datetime | None) -> bool:
    """Equal as instants and written in the same offset."""
    if a is None or b is None:
        return a is b
    return a == b and a.utcoffset() == b.utcoffset()


def schedule_profile(profile_id: int, *, valid_to: datetime | None = None) -> ChargingProfile:
    return ChargingProfile(
        charging_profile_id=profile_id,
        stack_level=INT64_MAX,
        charging_profile_purpose=ChargingProfilePurposeType.TX_PROFILE,
        charging_profile_kind=ChargingProfileKindType.ABSOLUTE,
        transaction_id=INT64_MAX,
        valid_from=EARLIEST,
        valid_to=valid_to,
        charging_schedule=ChargingSchedule(
            charging_rate_unit=ChargingRateUnitType.W,
            start_schedule=ODD_OFFSET,
            charging_schedule_period=(ChargingSchedulePeriod(start_period=0, limit=11.5),),
        ),
    )


# --- values at the edges ----------------------------------------------------------------------


@pytest.mark.parametrize("hard", HARD)
async def test_strings_round_trip_exactly_in_every_store(stores: PostgresStores, hard: str) -> None:
    cp = f"CP{hard}"
    record = ChargePointRecord(
        charge_point_id=cp,
        registration_status=RegistrationStatus.ACCEPTED,
        password_hash=hard,
        boot=BootInfo(charge_point_vendor=hard, charge_point_model="M", iccid=hard),
        last_seen=T0,
    )
    await stores.charge_points.save(record)
    assert await stores.charge_points.get(cp) == record
    status = ConnectorStatus(
        connector_id=1,
        status=ChargePointStatus.FAULTED,
        error_code=ChargePointErrorCode.OTHER_ERROR,
        timestamp=T0,
        info=hard,
        vendor_id=hard,
        vendor_error_code=hard,
    )
    assert await stores.charge_points.set_connector_status(cp, status) is True
    assert await stores.charge_points.connector_statuses(cp) == {1: status}

    tag = IdTagRecord(id_tag=f"T{hard}", parent_id_tag=hard)
    await stores.id_tags.save(tag)
    assert await stores.id_tags.get(f"t{hard}") == tag

    start = TransactionStart(
        charge_point_id=cp, connector_id=1, id_tag=f"T{hard}", meter_start=0, timestamp=T0
    )
    record_tx, created = await stores.transactions.start(start)
    assert created is True
    again, created_again = await stores.transactions.start(start)
    assert (again, created_again) == (record_tx, False)
    stopped = await stores.transactions.stop(
        record_tx.transaction_id, TransactionStop(meter_stop=5, timestamp=T0, id_tag=hard)
    )
    assert stopped is not None
    assert await stores.transactions.get(record_tx.transaction_id) == stopped
    value = MeterValue(timestamp=T0, sampled_value=(SampledValue(value=hard),))
    assert await stores.transactions.add_meter_values(cp, 1, None, [value]) == 1
    assert [v.meter_value for v in await stores.transactions.meter_values(cp)] == [value]

    entries = [KeyValue(key=f"K{hard}", readonly=False, value=hard)]
    await stores.configuration.put(cp, entries)
    assert dict(await stores.configuration.get(cp)) == {f"K{hard}": entries[0]}

    local = LocalListState(
        version=1,
        entries=(
            AuthorizationData(
                id_tag=hard, id_tag_info=IdTagInfo(status=AuthorizationStatus.ACCEPTED)
            ),
        ),
    )
    await stores.require("local_lists").save(cp, local)
    assert await stores.require("local_lists").get(cp) == local

    reservation = ReservationRecord(
        charge_point_id=cp,
        reservation_id=1,
        connector_id=0,
        id_tag=hard,
        parent_id_tag=hard,
        expiry_date=T0,
        requested_at=T0,
        updated_at=T0,
    )
    await stores.require("reservations").save(reservation)
    assert await stores.require("reservations").find(charge_point_id=cp) == [reservation]


async def test_sixty_four_bit_integers_round_trip(stores: PostgresStores) -> None:
    start = TransactionStart(
        charge_point_id="CP1",
        connector_id=INT64_MAX,
        id_tag="T",
        meter_start=INT64_MIN,
        timestamp=T0,
        reservation_id=INT64_MAX,
    )
    record, _ = await stores.transactions.start(start)
    stop = TransactionStop(meter_stop=INT64_MAX, timestamp=T0, reason=Reason.OTHER)
    stopped = await stores.transactions.stop(record.transaction_id, stop)
    assert stopped is not None
    assert stopped.start == start
    assert stopped.stop == stop
    value = MeterValue(timestamp=T0, sampled_value=(SampledValue(value="1"),))
    assert await stores.transactions.add_meter_values("CP1", INT64_MIN, INT64_MAX, [value]) == 1
    (stored,) = await stores.transactions.meter_values("CP1", transaction_id=INT64_MAX)
    assert (stored.connector_id, stored.transaction_id) == (INT64_MIN, INT64_MAX)

    profile = InstalledChargingProfile(
        charge_point_id="CP1", connector_id=INT64_MAX, profile=schedule_profile(INT64_MIN)
    )
    await stores.require("charging_profiles").install(profile)
    assert await stores.require("charging_profiles").installed("CP1") == [profile]
    dropped = await stores.require("charging_profiles").drop_transaction_profiles("CP1", INT64_MAX)
    assert dropped == [profile]

    await stores.require("local_lists").save("CP1", LocalListState(version=INT64_MAX))
    assert await stores.require("local_lists").get("CP1") == LocalListState(version=INT64_MAX)


async def test_an_integer_beyond_64_bits_is_a_store_error(stores: PostgresStores) -> None:
    start = TransactionStart(
        charge_point_id="CP1", connector_id=1, id_tag="T", meter_start=2**63, timestamp=T0
    )
    with pytest.raises(StoreError, match="out of range"):
        await stores.transactions.start(start)
    assert await stores.transactions.active() == []


@pytest.mark.parametrize("moment", [LATEST, EARLIEST, ODD_OFFSET, T0.astimezone(PLUS_TWO)])
async def test_datetimes_keep_instant_and_offset(stores: PostgresStores, moment: datetime) -> None:
    await stores.charge_points.save(ChargePointRecord(charge_point_id="CP1"))
    await stores.charge_points.touch("CP1", moment)
    back = await stores.charge_points.get("CP1")
    assert back is not None
    assert same(back.last_seen, moment)

    start = TransactionStart(
        charge_point_id="CP1", connector_id=1, id_tag="T", meter_start=0, timestamp=moment
    )
    record, _ = await stores.transactions.start(start)
    got = await stores.transactions.get(record.transaction_id)
    assert got is not None
    assert same(got.start.timestamp, moment)
    # The same instant in UTC (when Python can write it so) is a retry.
    if T0 - timedelta(days=1) < moment < T0 + timedelta(days=1):
        _, created = await stores.transactions.start(
            TransactionStart(
                charge_point_id="CP1",
                connector_id=1,
                id_tag="T",
                meter_start=0,
                timestamp=moment.astimezone(UTC),
            )
        )
        assert created is False

    value = MeterValue(timestamp=moment, sampled_value=(SampledValue(value="1"),))
    await stores.transactions.add_meter_values("CP1", 1, None, [value])
    (stored,) = await stores.transactions.meter_values("CP1")
    assert same(stored.meter_value.timestamp, moment)

    profile = InstalledChargingProfile(
        charge_point_id="CP1", connector_id=1, profile=schedule_profile(1, valid_to=moment)
    )
    await stores.require("charging_profiles").install(profile)
    (installed,) = await stores.require("charging_profiles").installed("CP1")
    assert same(installed.profile.valid_to, moment)
    assert same(installed.profile.valid_from, EARLIEST)

    reservation = ReservationRecord(
        charge_point_id="CP1",
        reservation_id=1,
        connector_id=1,
        id_tag="T",
        expiry_date=moment,
        requested_at=moment,
        updated_at=moment,
    )
    reservations = stores.require("reservations")
    await reservations.save(reservation)
    assert await reservations.due_for_expiry(moment) == [reservation]
    assert await reservations.due_for_expiry(EARLIEST) == (
        [reservation] if moment == EARLIEST else []
    )
    moved = ReservationRecord(
        charge_point_id="CP1",
        reservation_id=1,
        connector_id=1,
        id_tag="T",
        expiry_date=moment,
        requested_at=moment,
        updated_at=moment,
        status=ReservationState.EXPIRED,
    )
    assert await reservations.save_if_unchanged(reservation, moved) is True
    stored_reservation = await reservations.get("CP1", 1)
    assert stored_reservation == moved
    assert stored_reservation is not None
    assert same(stored_reservation.expiry_date, moment)


def hash_data(serial: str, *, vendor: str = "acme") -> CertificateHashData:
    return CertificateHashData(
        hash_algorithm=HashAlgorithm.SHA256,
        issuer_name_hash="aa" * 32,
        issuer_key_hash="bb" * 32,
        serial_number=serial,
        custom_data=CustomData(vendor_id=vendor, extra={"note": vendor}),
    )


@pytest.mark.parametrize("hard", HARD)
async def test_strings_round_trip_exactly_in_unmatched_stops_and_pnc_state(
    stores: PostgresStores, hard: str
) -> None:
    cp = f"CP{hard}"
    value = MeterValue(timestamp=T0, sampled_value=(SampledValue(value=hard),))
    stop = UnmatchedStop(
        charge_point_id=cp,
        transaction_id=-1,
        stop=TransactionStop(meter_stop=1, timestamp=T0, id_tag=hard),
        cause=UnmatchedStopCause.NO_TRANSACTION_ID,
        received_at=T0,
        transaction_data=(value,),
    )
    assert await stores.transactions.add_unmatched_stop(stop) is True
    assert await stores.transactions.add_unmatched_stop(stop) is False
    assert await stores.transactions.unmatched_stops(cp) == [stop]

    pnc = stores.pnc_certificates
    certificate = InstalledCertificate(
        charge_point_id=cp,
        certificate_type=GetCertificateIdUse.V2G_ROOT_CERTIFICATE,
        hash_data=hash_data(f"1{hard}", vendor=hard),
        child_hash_data=(hash_data(hard, vendor=hard),),
        certificate=hard,
        updated_at=T0,
    )
    await pnc.put_installed(certificate)
    assert await pnc.installed(cp) == [certificate]
    assert await pnc.remove_installed(cp, certificate.hash_data) is True
    await pnc.replace_installed(cp, [certificate.certificate_type], [certificate])
    assert await pnc.installed(cp) == [certificate]
    request = SigningRequest(
        charge_point_id=cp,
        request_id=hard,
        csr=hard,
        certificate_type=CertificateSigningUse.V2G_CERTIFICATE,
        received_at=T0,
        last_error=hard,
    )
    await pnc.save_signing_request(request)
    assert await pnc.signing_requests(cp) == [request]
    assert await pnc.delete_signing_request(cp, hard) is True
    state = V2GCertificateState(
        charge_point_id=cp, not_after=T0, installed_at=T0, certificate_chain=hard
    )
    await pnc.save_v2g_certificate(state)
    assert await pnc.v2g_certificate(cp) == state


async def test_sixty_four_bit_integers_round_trip_in_the_newer_tables(
    stores: PostgresStores,
) -> None:
    record, _ = await stores.transactions.start(
        TransactionStart(
            charge_point_id="CP1", connector_id=1, id_tag="T", meter_start=0, timestamp=T0
        )
    )
    end = UnconfirmedEnd(
        meter_stop=INT64_MAX, timestamp=T0, cause=UnconfirmedEndCause.BOOT, detected_at=T0
    )
    marked = await stores.transactions.end_unconfirmed(record.transaction_id, end)
    assert marked is not None
    assert marked.unconfirmed_end == end
    for transaction_id in (INT64_MIN, INT64_MAX):
        stop = UnmatchedStop(
            charge_point_id="CP1",
            transaction_id=transaction_id,
            stop=TransactionStop(meter_stop=INT64_MIN, timestamp=T0),
            cause=UnmatchedStopCause.UNKNOWN_TRANSACTION,
            received_at=T0,
        )
        assert await stores.transactions.add_unmatched_stop(stop) is True
        assert (await stores.transactions.unmatched_stops())[-1] == stop
    request = SigningRequest(
        charge_point_id="CP1",
        request_id="r",
        csr="c",
        certificate_type=CertificateSigningUse.V2G_CERTIFICATE,
        received_at=T0,
        attempts=INT64_MAX,
    )
    await stores.pnc_certificates.save_signing_request(request)
    assert await stores.pnc_certificates.signing_requests() == [request]


@pytest.mark.parametrize("moment", [LATEST, EARLIEST, ODD_OFFSET, T0.astimezone(PLUS_TWO)])
async def test_datetimes_keep_instant_and_offset_in_the_newer_tables(
    stores: PostgresStores, moment: datetime
) -> None:
    txs = stores.transactions
    record, _ = await txs.start(
        TransactionStart(
            charge_point_id="CP1", connector_id=1, id_tag="T", meter_start=0, timestamp=moment
        )
    )
    end = UnconfirmedEnd(
        meter_stop=5, timestamp=moment, cause=UnconfirmedEndCause.BOOT, detected_at=moment
    )
    await txs.end_unconfirmed(record.transaction_id, end)
    (marked,) = await txs.unconfirmed()
    assert marked.unconfirmed_end is not None
    assert same(marked.unconfirmed_end.timestamp, moment)
    assert same(marked.unconfirmed_end.detected_at, moment)

    value = MeterValue(timestamp=moment, sampled_value=(SampledValue(value="1"),))
    stop = UnmatchedStop(
        charge_point_id="CP1",
        transaction_id=7,
        stop=TransactionStop(meter_stop=1, timestamp=moment),
        cause=UnmatchedStopCause.ALREADY_STOPPED,
        received_at=moment,
        transaction_data=(value,),
    )
    await txs.add_unmatched_stop(stop)
    (kept,) = await txs.unmatched_stops()
    assert kept == stop
    assert same(kept.stop.timestamp, moment)
    assert same(kept.received_at, moment)
    assert same(kept.transaction_data[0].timestamp, moment)

    pnc = stores.pnc_certificates
    certificate = InstalledCertificate(
        charge_point_id="CP1",
        certificate_type=GetCertificateIdUse.MO_ROOT_CERTIFICATE,
        hash_data=hash_data("1"),
        updated_at=moment,
    )
    await pnc.put_installed(certificate)
    (installed,) = await pnc.installed("CP1")
    assert same(installed.updated_at, moment)
    request = SigningRequest(
        charge_point_id="CP1",
        request_id="r",
        csr="c",
        certificate_type=CertificateSigningUse.CHARGING_STATION_CERTIFICATE,
        received_at=moment,
    )
    await pnc.save_signing_request(request)
    (pending,) = await pnc.signing_requests()
    assert same(pending.received_at, moment)
    state = V2GCertificateState(
        charge_point_id="CP1", not_after=moment, installed_at=moment, renewal_requested_at=moment
    )
    await pnc.save_v2g_certificate(state)
    (due,) = await pnc.v2g_expiring(moment)
    assert due == state
    assert same(due.not_after, moment)
    assert same(due.installed_at, moment)
    assert same(due.renewal_requested_at, moment)
    assert await pnc.v2g_expiring(EARLIEST) == ([state] if moment == EARLIEST else [])


# --- a database that outlives its stores ------------------------------------------------------


async def test_everything_survives_closing_and_reopening(dsn: str) -> None:
    start = TransactionStart(
        charge_point_id="CP1", connector_id=1, id_tag="Tag", meter_start=0, timestamp=T0
    )
    async with postgresql_stores(dsn) as first:
        await first.charge_points.save(ChargePointRecord(charge_point_id="CP1", security_profile=2))
        record, _ = await first.transactions.start(start)
        await first.configuration.set_value("CP1", "HeartbeatInterval", "300")
    async with postgresql_stores(dsn) as second:
        assert await second.charge_points.get("CP1") == ChargePointRecord(
            charge_point_id="CP1", security_profile=2
        )
        assert await second.transactions.start(start) == (record, False)
        other, created = await second.transactions.start(
            TransactionStart(
                charge_point_id="CP1", connector_id=2, id_tag="Tag", meter_start=0, timestamp=T0
            )
        )
        assert created is True
        assert other.transaction_id > record.transaction_id
        assert (await second.configuration.get("CP1"))["HeartbeatInterval"].value == "300"


# --- the schema -------------------------------------------------------------------------------


def versions(dsn: str) -> list[int]:
    with psycopg.connect(dsn) as connection:
        return [
            row[0] for row in connection.execute("SELECT version FROM schema_version ORDER BY 1")
        ]


async def test_a_new_database_gets_the_latest_schema(bare_dsn: str) -> None:
    async with postgresql_stores(bare_dsn) as stores:
        await stores.charge_points.save(ChargePointRecord(charge_point_id="CP1"))
    assert versions(bare_dsn) == list(range(1, LATEST_VERSION + 1))


async def test_an_older_schema_is_upgraded_in_place_keeping_its_data(bare_dsn: str) -> None:
    with psycopg.connect(bare_dsn, autocommit=True) as connection:
        assert migrate(connection, target=1) == 0
        connection.execute(
            "INSERT INTO charge_points (charge_point_id, security_profile) VALUES ('OLD', 1)"
        )
        assert migrate(connection, target=1) == 1  # nothing to do
    assert versions(bare_dsn) == [1]
    async with postgresql_stores(bare_dsn) as stores:
        assert await stores.charge_points.get("OLD") == ChargePointRecord(
            charge_point_id="OLD", security_profile=1
        )
        # The tables of version 2 are there.
        assert await stores.device_state.requests("OLD") == []
    assert versions(bare_dsn) == list(range(1, LATEST_VERSION + 1))


async def test_a_version_2_database_is_upgraded_keeping_its_transactions(bare_dsn: str) -> None:
    with psycopg.connect(bare_dsn, autocommit=True) as connection:
        assert migrate(connection, target=2) == 0
        for connector, stopped in ((1, False), (2, True)):
            connection.execute(
                "INSERT INTO transactions (charge_point_id, connector_id, id_tag, id_tag_key,"
                " meter_start, start_timestamp, start_timestamp_offset, id_tag_status,"
                " meter_stop, stop_timestamp, stop_timestamp_offset)"
                " VALUES ('OLD', %s, 'Tag', 'tag', 100, %s, '+02:00', 'Accepted', %s, %s, %s)",
                (
                    connector,
                    T0,
                    200 if stopped else None,
                    T0 + timedelta(hours=1) if stopped else None,
                    "+00:00" if stopped else None,
                ),
            )
    assert versions(bare_dsn) == [1, 2]
    start = TransactionStart(
        charge_point_id="OLD",
        connector_id=1,
        id_tag="Tag",
        meter_start=100,
        timestamp=T0.astimezone(PLUS_TWO),
    )
    async with postgresql_stores(bare_dsn) as stores:
        txs = stores.transactions
        active = TransactionRecord(transaction_id=1, start=start)
        assert await txs.active() == [active]
        stopped = await txs.get(2)
        assert stopped is not None
        assert stopped.stop == TransactionStop(meter_stop=200, timestamp=T0 + timedelta(hours=1))
        assert stopped.unconfirmed_end is None
        assert await txs.unconfirmed() == []
        # A retry of the old start finds it; the old transaction can be marked and completed.
        assert await txs.start(start) == (active, False)
        end = UnconfirmedEnd(
            meter_stop=150, timestamp=T0, cause=UnconfirmedEndCause.BOOT, detected_at=T0
        )
        marked = await txs.end_unconfirmed(1, end)
        assert marked == TransactionRecord(transaction_id=1, start=start, unconfirmed_end=end)
        assert await txs.active() == []
        assert await txs.unconfirmed(charge_point_id="OLD") == [marked]
        assert await txs.unmatched_stops() == []
        # The tables of version 4 are there.
        assert await stores.pnc_certificates.installed("OLD") == []
        assert await stores.pnc_certificates.v2g_expiring(T0) == []
    assert versions(bare_dsn) == list(range(1, LATEST_VERSION + 1))


async def test_a_newer_schema_is_refused(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO schema_version (version) VALUES (%s)", (LATEST_VERSION + 1,)
        )
    stores = postgresql_stores(dsn)
    with pytest.raises(StoreError, match="schema version"):
        await stores.open()
    with pytest.raises(StoreError, match="schema version"):
        await stores.charge_points.get("CP1")
    await stores.aclose()


def test_concurrent_first_opens_migrate_once(bare_dsn: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def open_one() -> None:
        try:
            with psycopg.connect(bare_dsn, autocommit=True) as connection:
                barrier.wait()
                migrate(connection)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert versions(bare_dsn) == list(range(1, LATEST_VERSION + 1))


# --- transaction ids ------------------------------------------------------------------------


async def test_transaction_ids_end_at_2_31_minus_1(stores: PostgresStores, dsn: str) -> None:
    def start(connector: int) -> TransactionStart:
        return TransactionStart(
            charge_point_id="CP1", connector_id=connector, id_tag="T", meter_start=0, timestamp=T0
        )

    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(
            "ALTER TABLE transactions ALTER COLUMN transaction_id RESTART WITH 2147483647"
        )
    last, created = await stores.transactions.start(start(1))
    assert (last.transaction_id, created) == (2**31 - 1, True)
    with pytest.raises(OverflowError):
        await stores.transactions.start(start(2))
    # A retry of a stored start is still answered.
    assert await stores.transactions.start(start(1)) == (last, False)
    assert [r.transaction_id for r in await stores.transactions.active()] == [2**31 - 1]


async def test_concurrent_retries_in_one_process_get_one_id(stores: PostgresStores) -> None:
    start = TransactionStart(
        charge_point_id="CP1", connector_id=1, id_tag="T", meter_start=0, timestamp=T0
    )
    results: list[tuple[int, bool]] = []

    async def attempt() -> None:
        record, created = await stores.transactions.start(start)
        results.append((record.transaction_id, created))

    async with anyio.create_task_group() as group:
        for _ in range(12):
            group.start_soon(attempt)
    assert len({transaction_id for transaction_id, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 11 + [True]


async def test_concurrent_unmatched_stop_retries_are_kept_once(stores: PostgresStores) -> None:
    stop = UnmatchedStop(
        charge_point_id="CP1",
        transaction_id=-1,
        stop=TransactionStop(meter_stop=10, timestamp=T0),
        cause=UnmatchedStopCause.NO_TRANSACTION_ID,
        received_at=T0,
    )
    results: list[bool] = []

    async def attempt(minutes: int) -> None:
        # Retries differ in when they were received, not in their key.
        retry = UnmatchedStop(
            charge_point_id=stop.charge_point_id,
            transaction_id=stop.transaction_id,
            stop=stop.stop,
            cause=stop.cause,
            received_at=T0 + timedelta(minutes=minutes),
        )
        results.append(await stores.transactions.add_unmatched_stop(retry))

    async with anyio.create_task_group() as group:
        for minutes in range(12):
            group.start_soon(attempt, minutes)
    assert sorted(results) == [False] * 11 + [True]
    assert len(await stores.transactions.unmatched_stops()) == 1


async def test_concurrent_replacements_of_installed_certificates_never_mix(
    stores: PostgresStores,
) -> None:
    pnc = stores.pnc_certificates
    kind = GetCertificateIdUse.V2G_ROOT_CERTIFICATE

    def batch(n: int) -> list[InstalledCertificate]:
        return [
            InstalledCertificate(
                charge_point_id="CP1",
                certificate_type=kind,
                hash_data=hash_data(f"{n}{i:02d}"),
                updated_at=T0,
            )
            for i in range(20)
        ]

    batches = {n: batch(n) for n in range(1, 7)}
    for _ in range(3):
        async with anyio.create_task_group() as group:
            for made in batches.values():
                group.start_soon(pnc.replace_installed, "CP1", [kind], made)
        serials = {c.hash_data.serial_number for c in await pnc.installed("CP1")}
        assert serials in [{c.hash_data.serial_number for c in made} for made in batches.values()]


# --- failures ---------------------------------------------------------------------------------


async def test_closed_stores_raise_store_error(dsn: str) -> None:
    stores = postgresql_stores(dsn)
    await stores.charge_points.get("CP1")
    await stores.aclose()
    await stores.aclose()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        await stores.charge_points.get("CP1")


async def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    stores = postgresql_stores(
        "postgresql://csms:s3cret-Passw0rd@/csms?host=/nonexistent-socket-dir&connect_timeout=1",
        timeout=1.0,
    )
    with pytest.raises(StoreError) as raised:
        await stores.id_tags.get("TAG")
    assert "s3cret-Passw0rd" not in str(raised.value)
    assert "csms" in str(raised.value)
    stores.close()


def test_pool_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="pool_size"):
        postgresql_stores("dbname=x", pool_size=0)
    with pytest.raises(ValueError, match="min_pool_size"):
        postgresql_stores("dbname=x", pool_size=2, min_pool_size=3)
    with pytest.raises(ValueError, match="timeout"):
        postgresql_stores("dbname=x", timeout=0)


async def test_more_concurrent_calls_than_connections(dsn: str) -> None:
    async with postgresql_stores(dsn, pool_size=2) as stores:
        assert stores.pool_size == 2

        async def save(n: int) -> None:
            await stores.id_tags.save(IdTagRecord(id_tag=f"TAG{n}"))

        async with anyio.create_task_group() as group:
            for n in range(40):
                group.start_soon(save, n)
        for n in range(40):
            assert await stores.id_tags.get(f"tag{n}") == IdTagRecord(id_tag=f"TAG{n}")
        with psycopg.connect(dsn) as connection:
            (count,) = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name <> 'psql' AND pid <> pg_backend_pid()"
            ).fetchone() or (0,)
        assert count <= 2
