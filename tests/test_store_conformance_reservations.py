"""Conformance suite for :class:`~ocpp16csms.stores.reservations.ReservationStore`.

Runs against every factory in ``test_store_conformance.STORE_FACTORIES`` (add a factory there
and this suite checks its reservation store too), on asyncio and trio. The docstrings of
:class:`ReservationStore` are the contract.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest

from ocpp16csms import Stores
from ocpp16csms.profiles.reservation.lifecycle import (
    LIVE_STATES,
    ReservationRecord,
    ReservationState,
)
from ocpp16csms.profiles.reservation.store import ReservationStore
from test_store_conformance import STORE_FACTORIES, StoreFactory, opened

pytestmark = pytest.mark.anyio

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))


@pytest.fixture(params=list(STORE_FACTORIES))
def stores(request: pytest.FixtureRequest) -> Iterator[Stores]:
    """A fresh, empty set of stores from each implementation under test."""
    with opened(STORE_FACTORIES[request.param]) as made:
        yield made


@pytest.fixture
def store(stores: Stores) -> ReservationStore:
    reservations: ReservationStore = stores.require("reservations")
    return reservations


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def reservation(
    reservation_id: int = 1,
    charge_point_id: str = "CP1",
    status: ReservationState = ReservationState.ACCEPTED,
    expiry: datetime | None = None,
    **fields: object,
) -> ReservationRecord:
    values: dict[str, object] = {
        "connector_id": 1,
        "id_tag": "Tag-A",
        "requested_at": T0,
        "updated_at": T0,
        **fields,
    }
    return ReservationRecord(
        charge_point_id=charge_point_id,
        reservation_id=reservation_id,
        status=status,
        expiry_date=expiry or at(60),
        **values,  # type: ignore[arg-type]
    )


def keys(records: object) -> list[tuple[str, int]]:
    return [(r.charge_point_id, r.reservation_id) for r in records]  # type: ignore[attr-defined]


def test_the_store_satisfies_its_protocol(store: ReservationStore) -> None:
    assert isinstance(store, ReservationStore)


@pytest.mark.parametrize("factory", list(STORE_FACTORIES.values()), ids=list(STORE_FACTORIES))
async def test_each_factory_call_gives_an_independent_store(factory: StoreFactory) -> None:
    with opened(factory) as first, opened(factory) as second:
        await first.require("reservations").save(reservation())
        assert await second.require("reservations").get("CP1", 1) is None


async def test_get_unknown_is_none(store: ReservationStore) -> None:
    assert await store.get("CP1", 1) is None


async def test_save_get_round_trip_keeps_every_field(store: ReservationStore) -> None:
    record = reservation(
        7,
        status=ReservationState.USED,
        expiry=datetime(2024, 5, 1, 15, 30, 15, 250000, tzinfo=PLUS_TWO),
        connector_id=0,
        id_tag="MiXeD-Case",
        parent_id_tag="Parent-1",
        requested_at=at(-5),
        updated_at=at(3),
        transaction_id=2**31 - 1,
    )
    await store.save(record)
    assert await store.get("CP1", 7) == record
    stored = await store.get("CP1", 7)
    assert stored is not None
    assert (stored.id_tag, stored.parent_id_tag) == ("MiXeD-Case", "Parent-1")


@pytest.mark.parametrize("state", list(ReservationState))
async def test_every_state_round_trips(store: ReservationStore, state: ReservationState) -> None:
    await store.save(reservation(status=state))
    stored = await store.get("CP1", 1)
    assert stored is not None
    assert stored.status is state


async def test_save_replaces_the_same_charge_point_and_id_only(store: ReservationStore) -> None:
    await store.save(reservation(1, "CP1", id_tag="A"))
    await store.save(reservation(1, "CP2", id_tag="B"))
    await store.save(reservation(2, "CP1", id_tag="C"))
    replacement = reservation(1, "CP1", status=ReservationState.REQUESTED, id_tag="D")
    await store.save(replacement)
    assert await store.get("CP1", 1) == replacement
    assert [r.id_tag for r in await store.find()] == ["D", "C", "B"]


async def test_save_if_unchanged_replaces_the_expected_record(store: ReservationStore) -> None:
    record = reservation()
    await store.save(record)
    used = attrs.evolve(record, status=ReservationState.USED, transaction_id=5, updated_at=at(1))
    assert await store.save_if_unchanged(record, used) is True
    assert await store.get("CP1", 1) == used


async def test_save_if_unchanged_refuses_when_the_record_changed(
    store: ReservationStore,
) -> None:
    record = reservation()
    await store.save(record)
    expired = attrs.evolve(record, status=ReservationState.EXPIRED, updated_at=at(60))
    used = attrs.evolve(record, status=ReservationState.USED, transaction_id=5, updated_at=at(1))
    assert await store.save_if_unchanged(record, expired) is True
    assert await store.save_if_unchanged(record, used) is False
    assert await store.get("CP1", 1) == expired
    # A replacement with the same id and state is a different record too.
    replaced = attrs.evolve(expired, status=ReservationState.ACCEPTED, id_tag="Other")
    await store.save(replaced)
    assert await store.save_if_unchanged(record, used) is False
    assert await store.get("CP1", 1) == replaced


async def test_save_if_unchanged_refuses_a_missing_record(store: ReservationStore) -> None:
    record = reservation()
    assert await store.save_if_unchanged(record, record) is False
    assert await store.get("CP1", 1) is None


async def test_save_if_unchanged_refuses_another_key(store: ReservationStore) -> None:
    record = reservation()
    await store.save(record)
    for other in (reservation(2), reservation(1, "CP2")):
        with pytest.raises(ValueError, match="same charge point and id"):
            await store.save_if_unchanged(record, other)
    assert await store.get("CP1", 1) == record
    assert await store.get("CP1", 2) is None


async def test_find_filters_and_orders(store: ReservationStore) -> None:
    await store.save(reservation(3, "CP2", ReservationState.ACCEPTED))
    await store.save(reservation(10, "CP1", ReservationState.REQUESTED))
    await store.save(reservation(2, "CP1", ReservationState.CANCELLED))
    await store.save(reservation(1, "CP2", ReservationState.EXPIRED))
    assert keys(await store.find()) == [("CP1", 2), ("CP1", 10), ("CP2", 1), ("CP2", 3)]
    assert keys(await store.find(charge_point_id="CP1")) == [("CP1", 2), ("CP1", 10)]
    assert keys(await store.find(states=LIVE_STATES)) == [("CP1", 10), ("CP2", 3)]
    assert keys(
        await store.find(charge_point_id="CP2", states=iter([ReservationState.EXPIRED]))
    ) == [("CP2", 1)]
    assert await store.find(states=[]) == []
    assert await store.find(charge_point_id="CP9") == []


async def test_due_for_expiry_is_live_and_at_or_before_now(store: ReservationStore) -> None:
    await store.save(reservation(1, status=ReservationState.ACCEPTED, expiry=at(10)))
    await store.save(reservation(2, status=ReservationState.REQUESTED, expiry=at(10)))
    await store.save(reservation(3, status=ReservationState.ACCEPTED, expiry=at(11)))
    for number, state in enumerate(sorted(set(ReservationState) - LIVE_STATES), start=4):
        await store.save(reservation(number, status=state, expiry=at(0)))
    assert keys(await store.due_for_expiry(at(9))) == []
    assert keys(await store.due_for_expiry(at(10))) == [("CP1", 1), ("CP1", 2)]
    assert keys(await store.due_for_expiry(at(100))) == [("CP1", 1), ("CP1", 2), ("CP1", 3)]


async def test_due_for_expiry_compares_instants_across_offsets(store: ReservationStore) -> None:
    # 13:30+02:00 is 11:30 UTC: due at 11:30 UTC, not at 11:29 UTC.
    await store.save(reservation(expiry=datetime(2024, 5, 1, 13, 30, tzinfo=PLUS_TWO)))
    assert await store.due_for_expiry(datetime(2024, 5, 1, 11, 29, tzinfo=UTC)) == []
    assert keys(await store.due_for_expiry(datetime(2024, 5, 1, 11, 30, tzinfo=UTC))) == [
        ("CP1", 1)
    ]
