"""Conformance suite for :class:`~ocpp16csms.stores.device_state.DeviceStateStore`.

Runs against the in-memory, SQLite and PostgreSQL implementations (``DEVICE_STATE_FACTORIES``),
on asyncio and trio. The protocol's docstrings are the contract: requests kept per charge
point, kind and request id (None being a key of its own); the newest status per key by
``received_at``, an equal instant replacing; security events kept once, queried by timestamp.
Values at the edges (NUL, lone surrogates, 64-bit integers, offsets of almost a day at the ends
of the datetime range) must come back exactly.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import anyio
import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _postgres import postgresql_stores_for_tests
from ocpp16csms.enums import (
    DiagnosticsStatus,
    FirmwareStatus,
    FirmwareStatusEnumType,
    LogType,
    UploadLogStatus,
)
from ocpp16csms.stores.device_state import (
    DeviceStateStore,
    MemoryDeviceStateStore,
    SecurityEventRecord,
    TransferKind,
    TransferRequest,
    TransferStatus,
)

DeviceStateFactory = Callable[[], AbstractContextManager[DeviceStateStore]]


@contextlib.contextmanager
def memory() -> Iterator[DeviceStateStore]:
    yield MemoryDeviceStateStore()


@contextlib.contextmanager
def sqlite() -> Iterator[DeviceStateStore]:
    from ocpp16csms.stores.sqlite import sqlite_stores

    with tempfile.TemporaryDirectory() as directory:
        stores = sqlite_stores(Path(directory) / "csms.sqlite3")
        with contextlib.closing(stores):
            assert stores.device_state is not None
            yield stores.device_state


@contextlib.contextmanager
def postgresql() -> Iterator[DeviceStateStore]:
    with postgresql_stores_for_tests() as stores:
        yield stores.device_state


DEVICE_STATE_FACTORIES: dict[str, DeviceStateFactory] = {
    "memory": memory,
    "sqlite": sqlite,
    "postgresql": postgresql,
}

pytestmark = pytest.mark.anyio

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))
# The ends of what a charge point can send: their UTC forms lie outside Python's years.
LATEST = datetime(
    9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(-timedelta(hours=23, minutes=59))
)
EARLIEST = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=23, minutes=59)))
ODD_OFFSET = datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=5, minutes=30, seconds=15)))
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
HARD_TEXT = "a\x00b\ud800c\udfff\x01d\x010041é😀"


@pytest.fixture(params=list(DEVICE_STATE_FACTORIES))
def store(request: pytest.FixtureRequest) -> Iterator[DeviceStateStore]:
    """A fresh, empty device-state store from each implementation under test."""
    with DEVICE_STATE_FACTORIES[request.param]() as made:
        yield made


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def transfer(
    kind: TransferKind = TransferKind.FIRMWARE,
    request_id: int | None = None,
    charge_point_id: str = "CP1",
    requested_at: datetime = T0,
    **fields: object,
) -> TransferRequest:
    values: dict[str, object] = {"location": "https://files.example/fw.bin", **fields}
    return TransferRequest(
        charge_point_id=charge_point_id,
        kind=kind,
        request_id=request_id,
        requested_at=requested_at,
        **values,  # type: ignore[arg-type]
    )


def status(
    value: object = FirmwareStatus.DOWNLOADING,
    received_at: datetime = T0,
    kind: TransferKind = TransferKind.FIRMWARE,
    request_id: int | None = None,
    charge_point_id: str = "CP1",
) -> TransferStatus:
    return TransferStatus(
        charge_point_id=charge_point_id,
        kind=kind,
        request_id=request_id,
        status=value,  # type: ignore[arg-type]
        received_at=received_at,
    )


def event(
    timestamp: datetime = T0,
    event_type: str = "FirmwareUpdated",
    tech_info: str | None = None,
    charge_point_id: str = "CP1",
    received_at: datetime = T0,
) -> SecurityEventRecord:
    return SecurityEventRecord(
        charge_point_id=charge_point_id,
        type=event_type,
        timestamp=timestamp,
        tech_info=tech_info,
        received_at=received_at,
    )


def same(a: datetime | None, b: datetime | None) -> bool:
    """Equal as instants and written in the same offset."""
    if a is None or b is None:
        return a is b
    return a == b and a.utcoffset() == b.utcoffset()


# --- the protocol -----------------------------------------------------------------------------


def test_the_store_satisfies_its_protocol(store: DeviceStateStore) -> None:
    assert isinstance(store, DeviceStateStore)


# --- requests ---------------------------------------------------------------------------------


async def test_unknown_request_is_none(store: DeviceStateStore) -> None:
    assert await store.request("CP1", TransferKind.FIRMWARE) is None
    assert await store.requests("CP1") == []


async def test_request_round_trips_every_field(store: DeviceStateStore) -> None:
    full = transfer(
        TransferKind.LOG,
        request_id=INT64_MAX,
        charge_point_id=HARD_TEXT,
        requested_at=ODD_OFFSET,
        location="sftp://logs.example/" + HARD_TEXT,
        retrieve_date=LATEST,
        install_date=EARLIEST,
        retries=INT64_MAX,
        retry_interval=INT64_MIN,
        start_time=T0.astimezone(PLUS_TWO),
        stop_time=at(5),
        log_type=LogType.SECURITY_LOG,
        file_name=HARD_TEXT,
    )
    await store.record_request(full)
    back = await store.request(HARD_TEXT, TransferKind.LOG, INT64_MAX)
    assert back == full
    assert back is not None
    for name in ("requested_at", "retrieve_date", "install_date", "start_time", "stop_time"):
        assert same(getattr(back, name), getattr(full, name)), name
    assert back.log_type is LogType.SECURITY_LOG


async def test_minimal_request_round_trips(store: DeviceStateStore) -> None:
    minimal = transfer(TransferKind.DIAGNOSTICS, location="ftp://diag.example/")
    await store.record_request(minimal)
    assert await store.request("CP1", TransferKind.DIAGNOSTICS) == minimal


async def test_a_request_replaces_the_one_with_the_same_key_only(store: DeviceStateStore) -> None:
    await store.record_request(transfer(request_id=None, location="ftp://a/1"))
    await store.record_request(transfer(request_id=0, location="ftp://a/2"))
    await store.record_request(transfer(TransferKind.SIGNED_FIRMWARE, location="ftp://a/3"))
    await store.record_request(transfer(charge_point_id="CP2", location="ftp://a/4"))
    await store.record_request(transfer(request_id=None, location="ftp://a/5", retries=3))
    firmware = await store.request("CP1", TransferKind.FIRMWARE)
    assert firmware == transfer(request_id=None, location="ftp://a/5", retries=3)
    zero = await store.request("CP1", TransferKind.FIRMWARE, 0)
    assert zero is not None
    assert zero.location == "ftp://a/2"
    signed = await store.request("CP1", TransferKind.SIGNED_FIRMWARE)
    assert signed is not None
    assert signed.location == "ftp://a/3"
    other = await store.request("CP2", TransferKind.FIRMWARE)
    assert other is not None
    assert other.location == "ftp://a/4"
    assert len(await store.requests("CP1")) == 3


async def test_requests_are_ordered_and_filtered_by_kind(store: DeviceStateStore) -> None:
    later = transfer(TransferKind.DIAGNOSTICS, requested_at=at(10))
    log_7 = transfer(TransferKind.LOG, request_id=7, requested_at=at(1))
    log_none = transfer(TransferKind.LOG, requested_at=at(1))
    firmware = transfer(TransferKind.FIRMWARE, requested_at=at(1).astimezone(PLUS_TWO))
    earliest = transfer(TransferKind.SIGNED_FIRMWARE, request_id=1, requested_at=EARLIEST)
    for request in (later, log_7, log_none, firmware, earliest):
        await store.record_request(request)
    assert await store.requests("CP1") == [earliest, firmware, log_none, log_7, later]
    assert await store.requests("CP1", kind=TransferKind.LOG) == [log_none, log_7]
    assert await store.requests("CP2") == []


# --- statuses ---------------------------------------------------------------------------------


async def test_unknown_status_is_none(store: DeviceStateStore) -> None:
    assert await store.status("CP1", TransferKind.FIRMWARE) is None
    assert await store.latest_status("CP1", TransferKind) is None


async def test_the_newest_status_wins(store: DeviceStateStore) -> None:
    assert await store.record_status(status(FirmwareStatus.DOWNLOADING, at(1))) is True
    assert await store.record_status(status(FirmwareStatus.DOWNLOADED, at(2))) is True
    # A late report of an older instant is refused, whatever offset it is written in.
    late = status(FirmwareStatus.IDLE, at(1.5).astimezone(PLUS_TWO))
    assert await store.record_status(late) is False
    assert await store.status("CP1", TransferKind.FIRMWARE) == status(
        FirmwareStatus.DOWNLOADED, at(2)
    )
    # The same instant replaces (a repeated report).
    again = status(FirmwareStatus.INSTALLING, at(2).astimezone(PLUS_TWO))
    assert await store.record_status(again) is True
    kept = await store.status("CP1", TransferKind.FIRMWARE)
    assert kept == again
    assert kept is not None
    assert same(kept.received_at, again.received_at)


async def test_statuses_read_back_as_their_kinds_enumeration(store: DeviceStateStore) -> None:
    samples = [
        status(FirmwareStatus.INSTALLED, kind=TransferKind.FIRMWARE),
        status(FirmwareStatusEnumType.INSTALL_REBOOTING, kind=TransferKind.SIGNED_FIRMWARE),
        status(DiagnosticsStatus.UPLOAD_FAILED, kind=TransferKind.DIAGNOSTICS),
        status(UploadLogStatus.PERMISSION_DENIED, kind=TransferKind.LOG, request_id=INT64_MIN),
        status("VendorSpecificState", kind=TransferKind.LOG, request_id=3),
    ]
    for sample in samples:
        assert await store.record_status(sample) is True
    for sample in samples:
        back = await store.status("CP1", sample.kind, sample.request_id)
        assert back == sample
        assert back is not None
        assert type(back.status) is type(sample.status)


async def test_statuses_are_kept_per_key(store: DeviceStateStore) -> None:
    await store.record_status(status(UploadLogStatus.UPLOADING, at(5), TransferKind.LOG, 1))
    # An older status under another request id, kind or charge point is not compared with it.
    for other in (
        status(UploadLogStatus.IDLE, at(1), TransferKind.LOG, None),
        status(UploadLogStatus.IDLE, at(1), TransferKind.LOG, 2),
        status(DiagnosticsStatus.IDLE, at(1), TransferKind.DIAGNOSTICS, 1),
        status(UploadLogStatus.IDLE, at(1), TransferKind.LOG, 1, charge_point_id="CP2"),
    ):
        assert await store.record_status(other) is True
        assert await store.status(other.charge_point_id, other.kind, other.request_id) == other


async def test_latest_status_across_kinds_and_requests(store: DeviceStateStore) -> None:
    signed = status(
        FirmwareStatusEnumType.DOWNLOAD_SCHEDULED, at(3), TransferKind.SIGNED_FIRMWARE, 9
    )
    plain = status(FirmwareStatus.DOWNLOADED, at(2), TransferKind.FIRMWARE)
    diagnostics = status(DiagnosticsStatus.UPLOADING, at(4), TransferKind.DIAGNOSTICS)
    for item in (signed, plain, diagnostics, status(received_at=at(9), charge_point_id="CP2")):
        await store.record_status(item)
    firmware_kinds = (TransferKind.FIRMWARE, TransferKind.SIGNED_FIRMWARE)
    assert await store.latest_status("CP1", firmware_kinds) == signed
    assert await store.latest_status("CP1", [TransferKind.FIRMWARE]) == plain
    assert await store.latest_status("CP1", TransferKind.FIRMWARE) == plain  # a lone kind
    assert await store.latest_status("CP1", TransferKind) == diagnostics
    assert await store.latest_status("CP1", []) is None
    assert await store.latest_status("CP1", [TransferKind.LOG]) is None


async def test_latest_status_of_equal_instants_is_the_last_written(store: DeviceStateStore) -> None:
    first = status(UploadLogStatus.UPLOADING, at(1), TransferKind.LOG, 1)
    second = status(UploadLogStatus.UPLOADED, at(1).astimezone(PLUS_TWO), TransferKind.LOG, 2)
    await store.record_status(first)
    await store.record_status(second)
    assert await store.latest_status("CP1", [TransferKind.LOG]) == second
    # Rewriting the first (same instant) makes it the last written.
    again = attrs.evolve(first, status=UploadLogStatus.UPLOAD_FAILURE)
    assert await store.record_status(again) is True
    assert await store.latest_status("CP1", [TransferKind.LOG]) == again


async def test_statuses_at_the_ends_of_time_compare_as_instants(store: DeviceStateStore) -> None:
    await store.record_status(status(FirmwareStatus.IDLE, EARLIEST, TransferKind.FIRMWARE))
    await store.record_status(status(FirmwareStatus.IDLE, LATEST, TransferKind.DIAGNOSTICS))
    newest = await store.latest_status("CP1", TransferKind)
    assert newest is not None
    assert same(newest.received_at, LATEST)
    assert await store.record_status(status(FirmwareStatus.IDLE, T0)) is True
    assert await store.record_status(status(FirmwareStatus.IDLE, EARLIEST)) is False


# --- security events --------------------------------------------------------------------------


async def test_security_events_are_kept_once(store: DeviceStateStore) -> None:
    first = event(at(1), tech_info="port 80", received_at=at(1))
    assert await store.add_security_event(first) is True
    # Resent (later, in another offset): the same event.
    resent = event(at(1).astimezone(PLUS_TWO), tech_info="port 80", received_at=at(3))
    assert await store.add_security_event(resent) is False
    # Differing in type, tech info (None is not ""), instant or charge point: new.
    for new in (
        event(at(1), event_type="Other", tech_info="port 80"),
        event(at(1), tech_info=None),
        event(at(1), tech_info=""),
        event(at(2), tech_info="port 80"),
        event(at(1), tech_info="port 80", charge_point_id="CP2"),
    ):
        assert await store.add_security_event(new) is True
    assert await store.security_events("CP1") == [
        first,
        event(at(1), event_type="Other", tech_info="port 80"),
        event(at(1), tech_info=None),
        event(at(1), tech_info=""),
        event(at(2), tech_info="port 80"),
    ]


async def test_security_events_by_time_range(store: DeviceStateStore) -> None:
    events = [event(at(m), event_type=f"E{m}") for m in (5, 1, 3, 2, 4)]
    for item in events:
        await store.add_security_event(item)
    ordered = sorted(events, key=lambda e: e.timestamp)
    assert await store.security_events("CP1") == ordered
    assert await store.security_events("CP1", since=at(2), until=at(4)) == ordered[1:3]
    assert await store.security_events("CP1", since=at(2).astimezone(PLUS_TWO)) == ordered[1:]
    assert await store.security_events("CP1", until=at(1)) == []
    assert await store.security_events("CP1", since=at(3), limit=1) == [ordered[2]]
    assert await store.security_events("CP1", limit=0) == []
    assert await store.security_events("CP2") == []
    with pytest.raises(ValueError, match="limit"):
        await store.security_events("CP1", limit=-1)


async def test_security_events_keep_hard_values(store: DeviceStateStore) -> None:
    items = [
        event(LATEST, event_type=HARD_TEXT, tech_info=HARD_TEXT, charge_point_id=HARD_TEXT),
        event(EARLIEST, event_type="\x00", tech_info="\ud800", charge_point_id=HARD_TEXT),
        event(ODD_OFFSET, event_type="x", received_at=LATEST, charge_point_id=HARD_TEXT),
    ]
    for item in items:
        assert await store.add_security_event(item) is True
    back = await store.security_events(HARD_TEXT)
    assert back == [items[1], items[2], items[0]]
    for got, want in zip(back, [items[1], items[2], items[0]], strict=True):
        assert same(got.timestamp, want.timestamp)
        assert same(got.received_at, want.received_at)
    assert await store.security_events(HARD_TEXT, since=LATEST) == [items[0]]


def test_records_with_naive_datetimes_cannot_be_built() -> None:
    naive = datetime(2024, 5, 1, 12, 0)
    with pytest.raises(ValueError, match="naive"):
        status(received_at=naive)
    with pytest.raises(ValueError, match="naive"):
        transfer(requested_at=naive)
    with pytest.raises(ValueError, match="naive"):
        transfer(stop_time=naive)
    with pytest.raises(ValueError, match="naive"):
        event(naive)
    with pytest.raises(ValueError, match="naive"):
        event(received_at=naive)


# --- property: record_status against a model ---------------------------------------------------

status_writes = st.builds(
    status,
    value=st.sampled_from(list(UploadLogStatus)),
    received_at=st.integers(0, 4).map(lambda m: at(m)),
    kind=st.just(TransferKind.LOG),
    request_id=st.none() | st.integers(1, 2),
    charge_point_id=st.sampled_from(["CP1", "CP2"]),
)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize(
    "factory", list(DEVICE_STATE_FACTORIES.values()), ids=list(DEVICE_STATE_FACTORIES)
)
@given(writes=st.lists(status_writes, min_size=1, max_size=20))
def test_status_writes_follow_the_model(
    factory: DeviceStateFactory, backend: str, writes: list[TransferStatus]
) -> None:
    async def body() -> None:
        with factory() as store:
            kept: dict[tuple[str, int | None], tuple[int, TransferStatus]] = {}
            for order, write in enumerate(writes):
                key = (write.charge_point_id, write.request_id)
                current = kept.get(key)
                expect = current is None or current[1].received_at <= write.received_at
                assert await store.record_status(write) is expect
                if expect:
                    kept[key] = (order, write)
            for cp in ("CP1", "CP2"):
                mine = [(s.received_at, o, s) for (c, _), (o, s) in kept.items() if c == cp]
                newest = max(mine, key=lambda c: (c[0], c[1]))[2] if mine else None
                assert await store.latest_status(cp, [TransferKind.LOG]) == newest
            for (cp, rid), (_, write) in kept.items():
                assert await store.status(cp, TransferKind.LOG, rid) == write

    anyio.run(body, backend=backend)
