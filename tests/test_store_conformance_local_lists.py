"""Conformance suite for :class:`~ocpp16csms.stores.LocalListStore` implementations (§3.5).

Runs against every factory in ``test_store_conformance.STORE_FACTORIES`` (add an
implementation there, once, for both suites), on asyncio and trio. The contract is the
protocol's docstrings: ``get`` returns what the last ``save`` for the charge point stored, or
None; ``save`` replaces; charge points do not see each other's state.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ocpp16csms.datatypes import (
    AuthorizationData,
    IdTagInfo,
)
from ocpp16csms.enums import AuthorizationStatus
from ocpp16csms.profiles.local_auth_list import (
    LocalListState,
    LocalListStore,
)
from test_store_conformance import STORE_FACTORIES, opened

pytestmark = pytest.mark.anyio


@pytest.fixture(params=list(STORE_FACTORIES))
def local_lists(request: pytest.FixtureRequest) -> Iterator[LocalListStore]:
    """A fresh, empty local list store from each implementation under test."""
    with opened(STORE_FACTORIES[request.param]) as stores:
        if stores.local_lists is None:
            pytest.skip(f"{request.param} has no local list store")
        yield stores.local_lists


def state(version: int, *id_tags: str) -> LocalListState:
    return LocalListState(
        version=version,
        entries=tuple(
            AuthorizationData(
                id_tag=id_tag, id_tag_info=IdTagInfo(status=AuthorizationStatus.ACCEPTED)
            )
            for id_tag in id_tags
        ),
    )


def test_implements_the_protocol(local_lists: LocalListStore) -> None:
    assert isinstance(local_lists, LocalListStore)


async def test_unknown_charge_point_has_no_state(local_lists: LocalListStore) -> None:
    assert await local_lists.get("CP1") is None


async def test_round_trip_keeps_entries_exactly(local_lists: LocalListStore) -> None:
    # Order, spelling, every IdTagInfo field and the instant of an expiry date survive.
    saved = LocalListState(
        version=7,
        entries=(
            AuthorizationData(
                id_tag="zeta-Tag",
                id_tag_info=IdTagInfo(
                    status=AuthorizationStatus.BLOCKED,
                    expiry_date=datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
                    parent_id_tag="Parent",
                ),
            ),
            AuthorizationData(
                id_tag="alpha",
                id_tag_info=IdTagInfo(
                    status=AuthorizationStatus.ACCEPTED,
                    expiry_date=datetime(2031, 6, 1, tzinfo=UTC),
                ),
            ),
            AuthorizationData(
                id_tag="Mid", id_tag_info=IdTagInfo(status=AuthorizationStatus.EXPIRED)
            ),
        ),
    )
    await local_lists.save("CP1", saved)
    loaded = await local_lists.get("CP1")
    assert loaded == saved


async def test_empty_list_round_trips(local_lists: LocalListStore) -> None:
    await local_lists.save("CP1", LocalListState(version=4))
    assert await local_lists.get("CP1") == LocalListState(version=4, entries=())


async def test_save_replaces_the_previous_state(local_lists: LocalListStore) -> None:
    await local_lists.save("CP1", state(1, "A", "B", "C"))
    await local_lists.save("CP1", state(2, "B", "D"))
    assert await local_lists.get("CP1") == state(2, "B", "D")
    # Replaced, not merged, also when the new list is empty.
    await local_lists.save("CP1", state(3))
    assert await local_lists.get("CP1") == state(3)


async def test_charge_points_are_isolated(local_lists: LocalListStore) -> None:
    await local_lists.save("CP1", state(1, "A"))
    await local_lists.save("CP2", state(5, "B", "C"))
    await local_lists.save("CP1", state(2, "A", "D"))
    assert await local_lists.get("CP1") == state(2, "A", "D")
    assert await local_lists.get("CP2") == state(5, "B", "C")
    assert await local_lists.get("CP3") is None
