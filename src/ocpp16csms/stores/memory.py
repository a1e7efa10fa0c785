"""In-memory reference implementations of the store protocols (for tests, demos, one process).

Each method completes without awaiting anything, so under asyncio or trio every method is
atomic with respect to other tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import attrs

from .._trusted import trusted_factory, trusted_replacer
from ..datatypes import KeyValue, MeterValue, SampledValue
from ..enums import (
    Location,
    Measurand,
    Phase,
    ReadingContext,
    RegistrationStatus,
    UnitOfMeasure,
    ValueFormat,
)
from .records import (
    BootInfo,
    ChargePointRecord,
    ConnectorStatus,
    IdTagRecord,
    StoredMeterValue,
    TransactionRecord,
    TransactionStart,
    TransactionStop,
    UnconfirmedEnd,
    UnknownChargePoint,
    UnmatchedStop,
)

__all__ = [
    "MemoryChargePointStore",
    "MemoryConfigurationStore",
    "MemoryIdTagStore",
    "MemoryTransactionStore",
]

_MAX_TRANSACTION_ID = 2**31 - 1

# A stored meter value is kept as a tuple of strings, numbers and datetimes, not as the
# objects it came in: such tuples are the one container the garbage collector stops
# tracking, so a store holding millions of readings costs no collection time (as objects,
# every full collection walked all of them: a fifth of a MeterValues message's CPU), and
# its dedup key hashes in a fifth of the time. Enum members become their wire value.
_Compact = tuple[str, int, "int | None", datetime, tuple[tuple[object, ...], ...]]


_R = TypeVar("_R")
_FACTORIES: dict[type, tuple[tuple[str, ...], Callable[..., Any]]] = {}


def _replace(record: _R, **changes: Any) -> _R:
    """``attrs.evolve(record, **changes)`` for the store's own records, built without running
    their checks again: every value is the stored record's or one the store protocol hands
    in (a third of the CPU of ``evolve``, which a Heartbeat-then-boot pays twice)."""
    cls = type(record)
    plan = _FACTORIES.get(cls)
    if plan is None:
        names = tuple(field.name for field in attrs.fields(cls))  # type: ignore[arg-type]
        plan = _FACTORIES[cls] = (names, trusted_factory(cls))
    names, make = plan
    made: _R = make(*[changes[n] if n in changes else getattr(record, n) for n in names])
    return made


_with_stop = trusted_replacer(TransactionRecord, "stop")


def _unindex(index: dict[str, dict[int, None]], key: str, transaction_id: int) -> None:
    ids = index.get(key)
    if ids is not None:
        ids.pop(transaction_id, None)
        if not ids:
            del index[key]


def _wire_values(enum: type) -> dict[object, str]:
    return {member: member.value for member in enum}  # type: ignore[attr-defined]


_CONTEXT, _FORMAT, _MEASURAND, _PHASE, _LOCATION, _UNIT = (
    _wire_values(enum).get
    for enum in (ReadingContext, ValueFormat, Measurand, Phase, Location, UnitOfMeasure)
)


def _compact(
    charge_point_id: str, connector_id: int, transaction_id: int | None, value: MeterValue
) -> _Compact:
    # An enum field may hold a RelaxedValue (outside the enumeration): kept as it is.
    sampled = tuple(
        [
            (
                s.value,
                _CONTEXT(s.context, s.context),
                _FORMAT(s.format, s.format),
                _MEASURAND(s.measurand, s.measurand),
                _PHASE(s.phase, s.phase),
                _LOCATION(s.location, s.location),
                _UNIT(s.unit, s.unit),
            )
            for s in value.sampled_value
        ]
    )
    return (charge_point_id, connector_id, transaction_id, value.timestamp, sampled)


def _expand(compact: _Compact) -> StoredMeterValue:
    charge_point_id, connector_id, transaction_id, timestamp, sampled = compact
    return StoredMeterValue(
        charge_point_id=charge_point_id,
        connector_id=connector_id,
        transaction_id=transaction_id,
        meter_value=MeterValue(
            timestamp=timestamp,
            sampled_value=tuple(
                SampledValue(
                    value=value,  # type: ignore[arg-type]
                    context=context,  # type: ignore[arg-type]
                    format=value_format,  # type: ignore[arg-type]
                    measurand=measurand,  # type: ignore[arg-type]
                    phase=phase,  # type: ignore[arg-type]
                    location=location,  # type: ignore[arg-type]
                    unit=unit,  # type: ignore[arg-type]
                )
                for value, context, value_format, measurand, phase, location, unit in sampled
            ),
        ),
    )


class MemoryChargePointStore:
    """:class:`~ocpp16csms.stores.ChargePointStore` in memory."""

    def __init__(self, records: Iterable[ChargePointRecord] = ()) -> None:
        self._records = {r.charge_point_id: r for r in records}
        self._statuses: dict[str, dict[int, ConnectorStatus]] = {}
        # last-seen apart from the record: a Heartbeat then writes one value, not a new record.
        self._last_seen: dict[str, datetime] = {}

    async def get(self, charge_point_id: str) -> ChargePointRecord | None:
        record = self._records.get(charge_point_id)
        seen = self._last_seen.get(charge_point_id)
        if record is not None and seen is not None:
            if record.last_seen is None or record.last_seen < seen:
                record = self._records[charge_point_id] = _replace(record, last_seen=seen)
            del self._last_seen[charge_point_id]
        return record

    async def save(self, record: ChargePointRecord) -> None:
        self._last_seen.pop(record.charge_point_id, None)
        self._records[record.charge_point_id] = record

    async def record_boot(
        self, charge_point_id: str, boot: BootInfo, status: RegistrationStatus, at: datetime
    ) -> None:
        record = await self.get(charge_point_id)
        if record is None:
            raise UnknownChargePoint(charge_point_id)
        self._records[charge_point_id] = _replace(
            record, boot=boot, registration_status=status, last_boot_at=at
        )

    async def touch(self, charge_point_id: str, at: datetime) -> None:
        if charge_point_id not in self._records:
            return
        seen = self._last_seen.get(charge_point_id)
        if seen is None or seen < at:
            self._last_seen[charge_point_id] = at

    async def set_connector_status(self, charge_point_id: str, status: ConnectorStatus) -> bool:
        statuses = self._statuses.setdefault(charge_point_id, {})
        current = statuses.get(status.connector_id)
        if current is not None and current.timestamp > status.timestamp:
            return False
        statuses[status.connector_id] = status
        return True

    async def connector_statuses(self, charge_point_id: str) -> Mapping[int, ConnectorStatus]:
        return dict(self._statuses.get(charge_point_id, {}))


class MemoryIdTagStore:
    """:class:`~ocpp16csms.stores.IdTagStore` in memory."""

    def __init__(self, records: Iterable[IdTagRecord] = ()) -> None:
        self._records = {r.id_tag.casefold(): r for r in records}

    async def get(self, id_tag: str) -> IdTagRecord | None:
        return self._records.get(id_tag.casefold())

    async def save(self, record: IdTagRecord) -> None:
        self._records[record.id_tag.casefold()] = record

    async def delete(self, id_tag: str) -> bool:
        return self._records.pop(id_tag.casefold(), None) is not None


def _start_key(start: TransactionStart) -> tuple[object, ...]:
    return (
        start.charge_point_id,
        start.connector_id,
        start.id_tag.casefold(),
        start.meter_start,
        start.timestamp,
    )


class MemoryTransactionStore:
    """:class:`~ocpp16csms.stores.TransactionStore` in memory."""

    def __init__(self, *, first_id: int = 1) -> None:
        self._next_id = first_id
        self._transactions: dict[int, TransactionRecord] = {}
        # The ids of the active transactions, in the order they started (a dict as an ordered
        # set): active() looks at these only, not at every transaction ever stored; and the
        # same per charge point and per id tag (casefolded), so that the question asked on a
        # charge point's every stop, boot and Available status does not scan the fleet's.
        self._active: dict[int, None] = {}
        self._active_by_charge_point: dict[str, dict[int, None]] = {}
        self._active_by_id_tag: dict[str, dict[int, None]] = {}
        self._by_start: dict[tuple[object, ...], int] = {}
        self._meter_values: dict[str, list[_Compact]] = {}
        self._seen_values: set[_Compact] = set()
        self._unmatched: list[UnmatchedStop] = []
        self._unmatched_keys: set[tuple[object, ...]] = set()

    async def start(self, start: TransactionStart) -> tuple[TransactionRecord, bool]:
        key = _start_key(start)
        existing = self._by_start.get(key)
        if existing is not None:
            return self._transactions[existing], False
        if self._next_id > _MAX_TRANSACTION_ID:
            raise OverflowError("transaction ids are exhausted")
        record = TransactionRecord(transaction_id=self._next_id, start=start)
        self._next_id += 1
        transaction_id = record.transaction_id
        self._transactions[transaction_id] = record
        self._active[transaction_id] = None
        self._active_by_charge_point.setdefault(start.charge_point_id, {})[transaction_id] = None
        self._active_by_id_tag.setdefault(start.id_tag.casefold(), {})[transaction_id] = None
        self._by_start[key] = transaction_id
        return record, True

    def _ended(self, record: TransactionRecord) -> None:
        transaction_id, start = record.transaction_id, record.start
        self._active.pop(transaction_id, None)
        _unindex(self._active_by_charge_point, start.charge_point_id, transaction_id)
        _unindex(self._active_by_id_tag, start.id_tag.casefold(), transaction_id)

    async def get(self, transaction_id: int) -> TransactionRecord | None:
        return self._transactions.get(transaction_id)

    async def stop(self, transaction_id: int, stop: TransactionStop) -> TransactionRecord | None:
        record = self._transactions.get(transaction_id)
        if record is None or record.stop is not None:
            return record
        record = self._transactions[transaction_id] = _with_stop(record, stop)
        self._ended(record)
        return record

    async def active(
        self, *, charge_point_id: str | None = None, id_tag: str | None = None
    ) -> Sequence[TransactionRecord]:
        tag = id_tag.casefold() if id_tag is not None else None
        ids: dict[int, None] = self._active
        if charge_point_id is not None:
            ids = self._active_by_charge_point.get(charge_point_id, {})
        elif tag is not None:
            ids = self._active_by_id_tag.get(tag, {})
        if not ids:
            return []
        records = self._transactions
        return [
            r
            for r in (records[transaction_id] for transaction_id in ids)
            if (charge_point_id is None or r.start.charge_point_id == charge_point_id)
            and (tag is None or r.start.id_tag.casefold() == tag)
        ]

    async def end_unconfirmed(
        self, transaction_id: int, end: UnconfirmedEnd
    ) -> TransactionRecord | None:
        record = self._transactions.get(transaction_id)
        if record is None or not record.active:
            return record
        record = _replace(record, unconfirmed_end=end)
        self._transactions[transaction_id] = record
        self._ended(record)
        return record

    async def unconfirmed(
        self, *, charge_point_id: str | None = None
    ) -> Sequence[TransactionRecord]:
        return [
            r
            for r in self._transactions.values()
            if r.ended_unconfirmed
            and (charge_point_id is None or r.start.charge_point_id == charge_point_id)
        ]

    async def add_unmatched_stop(self, stop: UnmatchedStop) -> bool:
        key = (stop.charge_point_id, stop.transaction_id, stop.stop.meter_stop, stop.stop.timestamp)
        if key in self._unmatched_keys:
            return False
        self._unmatched_keys.add(key)
        self._unmatched.append(stop)
        return True

    async def unmatched_stops(self, charge_point_id: str | None = None) -> Sequence[UnmatchedStop]:
        return [
            s
            for s in self._unmatched
            if charge_point_id is None or s.charge_point_id == charge_point_id
        ]

    async def add_meter_values(
        self,
        charge_point_id: str,
        connector_id: int,
        transaction_id: int | None,
        meter_values: Iterable[MeterValue],
    ) -> int:
        stored = self._meter_values.setdefault(charge_point_id, [])
        seen = self._seen_values
        added = 0
        for value in meter_values:
            item = _compact(charge_point_id, connector_id, transaction_id, value)
            before = len(seen)
            seen.add(item)  # one hash, not two ("in" and then "add")
            if len(seen) != before:
                stored.append(item)
                added += 1
        return added

    async def meter_values(
        self, charge_point_id: str, *, transaction_id: int | None = None
    ) -> Sequence[StoredMeterValue]:
        values = self._meter_values.get(charge_point_id, [])
        return [_expand(v) for v in values if transaction_id is None or v[2] == transaction_id]


class MemoryConfigurationStore:
    """:class:`~ocpp16csms.stores.ConfigurationStore` in memory."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, KeyValue]] = {}

    async def get(self, charge_point_id: str) -> Mapping[str, KeyValue]:
        return dict(self._entries.get(charge_point_id, {}))

    async def put(self, charge_point_id: str, entries: Iterable[KeyValue]) -> None:
        known = self._entries.setdefault(charge_point_id, {})
        for entry in entries:
            known[entry.key] = entry

    async def set_value(self, charge_point_id: str, key: str, value: str) -> None:
        known = self._entries.setdefault(charge_point_id, {})
        current = known.get(key)
        readonly = current.readonly if current is not None else False
        known[key] = KeyValue(key=key, readonly=readonly, value=value)
