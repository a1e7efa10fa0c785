"""The memory stores' shortcuts: meter values kept in a compact form (tuples the garbage
collector stops tracking), whose reads and deduplication must be exactly what the objects
would give; records replaced without ``attrs.evolve``."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta, timezone

import anyio
import attrs
from hypothesis import given
from hypothesis import strategies as st

from ocpp16csms.constraints import RelaxedValue
from ocpp16csms.datatypes import MeterValue, SampledValue
from ocpp16csms.enums import (
    Location,
    Measurand,
    Phase,
    ReadingContext,
    RegistrationStatus,
    UnitOfMeasure,
    ValueFormat,
)
from ocpp16csms.stores import ChargePointRecord, StoredMeterValue
from ocpp16csms.stores.memory import MemoryTransactionStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _enum_field(enum: type) -> st.SearchStrategy[object]:
    # A member, nothing, or a value outside the enumeration that a relaxed policy let in —
    # including another enumeration's value, which must not become that enum's member.
    return st.one_of(
        st.none(),
        st.sampled_from(list(enum)),
        st.sampled_from(["L1", "Wh", "Outlet", "Raw", "Voltage", "Other.Value"])
        .filter(lambda text: text not in {m.value for m in enum})
        .map(RelaxedValue),
    )


sampled_values = st.builds(
    SampledValue,
    value=st.sampled_from(["0", "1", "12.5", "ü"]),
    context=_enum_field(ReadingContext),
    format=_enum_field(ValueFormat),
    measurand=_enum_field(Measurand),
    phase=_enum_field(Phase),
    location=_enum_field(Location),
    unit=_enum_field(UnitOfMeasure),
)

meter_values = st.builds(
    MeterValue,
    # The same instant in another offset is the same reading (equal datetimes).
    timestamp=st.builds(
        lambda minutes, hours: (T0 + timedelta(minutes=minutes)).astimezone(
            timezone(timedelta(hours=hours))
        ),
        st.integers(0, 3),
        st.integers(-2, 2),
    ),
    sampled_value=st.lists(sampled_values, min_size=1, max_size=3).map(tuple),
)

places = st.tuples(st.sampled_from(["CP1", "CP2"]), st.integers(0, 2), st.sampled_from([None, 7]))


@given(st.lists(st.tuples(places, st.lists(meter_values, max_size=3)), max_size=8))
def test_compact_storage_gives_back_and_deduplicates_as_the_objects_would(
    batches: list[tuple[tuple[str, int, int | None], list[MeterValue]]],
) -> None:
    async def scenario() -> None:
        store = MemoryTransactionStore()
        expected: list[StoredMeterValue] = []
        for (cp, connector, tx), values in batches:
            new = 0
            for value in values:
                item = StoredMeterValue(
                    charge_point_id=cp, connector_id=connector, transaction_id=tx, meter_value=value
                )
                if item not in expected:
                    expected.append(item)
                    new += 1
            assert await store.add_meter_values(cp, connector, tx, values) == new
        for cp in ("CP1", "CP2"):
            mine = [item for item in expected if item.charge_point_id == cp]
            got = list(await store.meter_values(cp))
            assert got == mine
            # Given back whole: members as members, relaxed values as relaxed values.
            for back, original in zip(got, mine, strict=True):
                for one, two in zip(
                    back.meter_value.sampled_value, original.meter_value.sampled_value, strict=True
                ):
                    for name in ("context", "format", "measurand", "phase", "location", "unit"):
                        assert type(getattr(one, name)) is type(getattr(two, name))
            assert list(await store.meter_values(cp, transaction_id=7)) == [
                item for item in mine if item.transaction_id == 7
            ]

    anyio.run(scenario)


def test_stored_meter_values_cost_the_garbage_collector_nothing() -> None:
    async def scenario() -> MemoryTransactionStore:
        store = MemoryTransactionStore()
        for n in range(50):
            value = MeterValue(
                timestamp=T0 + timedelta(seconds=n),
                sampled_value=(
                    SampledValue(value=str(n), measurand=Measurand.VOLTAGE, unit=UnitOfMeasure.V),
                ),
            )
            await store.add_meter_values("CP1", 1, None, [value])
        return store

    store = anyio.run(scenario)
    for _ in range(3):  # a collection stops tracking one level of nesting (at least)
        gc.collect()
    kept = store._meter_values["CP1"]
    assert len(kept) == 50
    assert not any(gc.is_tracked(item) for item in kept)


@given(
    st.builds(
        lambda status, seen, boot_at: (status, seen, boot_at),
        st.sampled_from([None, *RegistrationStatus]),
        st.one_of(st.none(), st.just(T0)),
        st.one_of(st.none(), st.just(T0 + timedelta(hours=1))),
    ),
    st.dictionaries(
        st.sampled_from(["registration_status", "last_seen", "last_boot_at", "boot"]),
        st.sampled_from([None, T0 + timedelta(days=1)]),
    ),
)
def test_the_stores_own_replace_is_evolve(
    values: tuple[RegistrationStatus | None, datetime | None, datetime | None],
    changes: dict[str, object],
) -> None:
    from ocpp16csms.stores.memory import _replace

    status, seen, boot_at = values
    record = ChargePointRecord(
        charge_point_id="CP1",
        registration_status=status,
        security_profile=2,
        password_hash="h",
        last_seen=seen,
        last_boot_at=boot_at,
    )
    replaced = _replace(record, **changes)
    assert type(replaced) is ChargePointRecord
    assert replaced == attrs.evolve(record, **changes)  # type: ignore[arg-type]
    assert record.last_seen == seen  # the original is left as it was


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["FirmwareUpdated", "TamperDetectionActivated"]),
            st.integers(0, 5),
            st.one_of(st.none(), st.sampled_from(["", "key 3"])),
            st.sampled_from([UTC, timezone(timedelta(hours=2))]),
        ),
        max_size=12,
    ),
    st.one_of(st.none(), st.integers(0, 12)),
)
def test_security_events_kept_as_rows_read_back_as_records(
    events: list[tuple[str, int, str | None, timezone]], limit: int | None
) -> None:
    """The memory store keeps security events as tuples the GC stops tracking; what it reads
    back is what a list of the records themselves would give: deduplicated on the instant,
    ordered by timestamp then arrival, limited."""
    from ocpp16csms.stores.device_state import MemoryDeviceStateStore, SecurityEventRecord

    records = [
        SecurityEventRecord(
            charge_point_id="CP1",
            type=kind,
            timestamp=(T0 + timedelta(minutes=minute)).astimezone(zone),
            tech_info=info,
            received_at=T0 + timedelta(hours=n),
        )
        for n, (kind, minute, info, zone) in enumerate(events)
    ]

    async def scenario() -> tuple[MemoryDeviceStateStore, list[bool], list[SecurityEventRecord]]:
        store = MemoryDeviceStateStore()
        added = [await store.add_security_event(record) for record in records]
        assert await store.security_events("CP2") == []
        return store, added, list(await store.security_events("CP1", limit=limit))

    store, added, read = anyio.run(scenario)
    seen: set[tuple[object, ...]] = set()
    unique = []
    for record, fresh in zip(records, added, strict=True):
        key = (record.type, record.timestamp, record.tech_info)  # the instant: zone-blind
        assert fresh is (key not in seen)
        if fresh:
            seen.add(key)
            unique.append(record)
    expected = sorted(unique, key=lambda r: r.timestamp)
    expected = expected if limit is None else expected[:limit]
    assert read == expected
    assert [repr(r) for r in read] == [repr(r) for r in expected]
    for _ in range(3):
        gc.collect()
    assert not any(gc.is_tracked(row) for row in store._events.get("CP1", ()))


_operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("start"), st.sampled_from(["CP1", "CP2"]), st.sampled_from(["tag", "TAG", "b"])
        ),
        st.tuples(st.just("stop"), st.integers(1, 12), st.none()),
        st.tuples(st.just("end"), st.integers(1, 12), st.none()),
    ),
    max_size=25,
)


@given(_operations)
def test_active_transactions_by_any_filter_are_those_a_scan_finds(
    operations: list[tuple[str, object, object]],
) -> None:
    from ocpp16csms.enums import AuthorizationStatus
    from ocpp16csms.stores import TransactionStart, TransactionStop, UnconfirmedEnd
    from ocpp16csms.stores.records import UnconfirmedEndCause

    async def scenario() -> None:
        store = MemoryTransactionStore()
        started = []
        for n, (kind, one, two) in enumerate(operations):
            at = T0 + timedelta(minutes=n)
            if kind == "start":
                record, _ = await store.start(
                    TransactionStart(
                        charge_point_id=str(one),
                        connector_id=1,
                        id_tag=str(two),
                        meter_start=n,
                        timestamp=at,
                        id_tag_status=AuthorizationStatus.ACCEPTED,
                    )
                )
                started.append(record.transaction_id)
            elif kind == "stop":
                await store.stop(int(str(one)), TransactionStop(meter_stop=n, timestamp=at))
            else:
                end = UnconfirmedEnd(
                    meter_stop=n, timestamp=at, cause=UnconfirmedEndCause.BOOT, detected_at=at
                )
                await store.end_unconfirmed(int(str(one)), end)
            records = [await store.get(i) for i in started]
            running = [r for r in records if r is not None and r.active]
            for cp in (None, "CP1", "CP2", "CP3"):
                for tag in (None, "tag", "TAG", "b", "x"):
                    expected = [
                        r
                        for r in running
                        if (cp is None or r.start.charge_point_id == cp)
                        and (tag is None or r.start.id_tag.casefold() == tag.casefold())
                    ]
                    got = await store.active(charge_point_id=cp, id_tag=tag)
                    assert list(got) == expected, (cp, tag)

    anyio.run(scenario)
