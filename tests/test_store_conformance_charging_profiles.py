"""Conformance suite for :class:`~ocpp16csms.stores.charging_profiles.ChargingProfileStore`.

Runs against every factory in ``test_store_conformance.STORE_FACTORIES`` (add a line there to
check another implementation) on asyncio and trio. The protocol's docstrings and the pure rules
:func:`replaces` and :func:`clear_matches` are the contract: SetChargingProfile replaces by
chargingProfileId on any connector, or by connector, purpose and stackLevel (§5.16, §3.13.2);
ClearChargingProfile clears by id alone, or by every given criterion (§5.5, §6.15).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp16csms.datatypes import (
    ChargingProfile,
    ChargingSchedule,
    ChargingSchedulePeriod,
)
from ocpp16csms.enums import (
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    RecurrencyKindType,
)
from ocpp16csms.profiles.smart_charging.store import (
    ChargingProfileStore,
    InstalledChargingProfile,
    clear_matches,
)
from test_store_conformance import STORE_FACTORIES, StoreFactory, opened

CP_MAX = ChargingProfilePurposeType.CHARGE_POINT_MAX_PROFILE
TX_DEFAULT = ChargingProfilePurposeType.TX_DEFAULT_PROFILE
TX = ChargingProfilePurposeType.TX_PROFILE
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def profile(
    profile_id: int,
    purpose: ChargingProfilePurposeType = TX_DEFAULT,
    stack_level: int = 0,
    *,
    transaction_id: int | None = None,
    limit: float = 16.0,
) -> ChargingProfile:
    return ChargingProfile(
        charging_profile_id=profile_id,
        stack_level=stack_level,
        charging_profile_purpose=purpose,
        charging_profile_kind=ChargingProfileKindType.RELATIVE,
        transaction_id=transaction_id,
        charging_schedule=ChargingSchedule(
            charging_rate_unit=ChargingRateUnitType.A,
            charging_schedule_period=(ChargingSchedulePeriod(start_period=0, limit=limit),),
        ),
    )


def item(
    connector_id: int, p: ChargingProfile, charge_point_id: str = "CP1"
) -> InstalledChargingProfile:
    return InstalledChargingProfile(
        charge_point_id=charge_point_id, connector_id=connector_id, profile=p
    )


def ids(items: Iterable[InstalledChargingProfile]) -> list[int]:
    return [i.profile.charging_profile_id for i in items]


@pytest.fixture(params=list(STORE_FACTORIES))
def store(request: pytest.FixtureRequest) -> Iterator[ChargingProfileStore]:
    """A fresh, empty charging profile store from each implementation under test."""
    with opened(STORE_FACTORIES[request.param]) as made:
        if made.charging_profiles is None:
            pytest.skip(f"{request.param} has no charging profile store")
        yield made.charging_profiles


# --- basics ---------------------------------------------------------------------------------


def test_the_store_satisfies_its_protocol(store: ChargingProfileStore) -> None:
    assert isinstance(store, ChargingProfileStore)


@pytest.mark.anyio
async def test_unknown_charge_point_has_no_profiles(store: ChargingProfileStore) -> None:
    assert list(await store.installed("nobody")) == []
    assert list(await store.installed("nobody", connector_id=1)) == []
    assert list(await store.clear("nobody")) == []
    assert list(await store.drop_transaction_profiles("nobody", 1, connector_id=1)) == []


@pytest.mark.anyio
async def test_install_round_trips_every_field(store: ChargingProfileStore) -> None:
    rich = ChargingProfile(
        charging_profile_id=42,
        stack_level=3,
        charging_profile_purpose=TX_DEFAULT,
        charging_profile_kind=ChargingProfileKindType.RECURRING,
        recurrency_kind=RecurrencyKindType.WEEKLY,
        valid_from=datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
        valid_to=T0 + timedelta(days=30, microseconds=250),
        charging_schedule=ChargingSchedule(
            charging_rate_unit=ChargingRateUnitType.W,
            duration=86_400,
            start_schedule=T0,
            min_charging_rate=1380.5,
            charging_schedule_period=(
                ChargingSchedulePeriod(start_period=0, limit=11000.0, number_phases=3),
                ChargingSchedulePeriod(start_period=3600, limit=7400.5, number_phases=1),
            ),
        ),
    )
    assert list(await store.install(item(2, rich))) == []
    (back,) = await store.installed("CP1")
    assert back == item(2, rich)
    assert back.profile.valid_from == rich.valid_from


@pytest.mark.anyio
async def test_installed_is_ordered_and_filtered_by_connector(store: ChargingProfileStore) -> None:
    for connector, profile_id, purpose in (
        (2, 5, TX_DEFAULT),
        (0, 9, CP_MAX),
        (1, 7, TX_DEFAULT),
        (0, 3, TX_DEFAULT),
        (1, 2, TX),
    ):
        await store.install(item(connector, profile(profile_id, purpose)))
    everything = await store.installed("CP1")
    assert [(i.connector_id, i.profile.charging_profile_id) for i in everything] == [
        (0, 3),
        (0, 9),
        (1, 2),
        (1, 7),
        (2, 5),
    ]
    assert ids(await store.installed("CP1", connector_id=1)) == [2, 7]
    assert ids(await store.installed("CP1", connector_id=0)) == [3, 9]
    assert ids(await store.installed("CP1", connector_id=3)) == []


@pytest.mark.anyio
async def test_charge_points_are_kept_apart(store: ChargingProfileStore) -> None:
    await store.install(item(1, profile(1), "CP1"))
    assert list(await store.install(item(1, profile(1, limit=8.0), "CP2"))) == []
    assert list(await store.clear("CP2")) == [item(1, profile(1, limit=8.0), "CP2")]
    assert list(await store.installed("CP1")) == [item(1, profile(1), "CP1")]


# --- replacement rules (§5.16, §3.13.2) ------------------------------------------------------


@pytest.mark.anyio
async def test_same_id_replaces_on_any_connector(store: ChargingProfileStore) -> None:
    old = item(1, profile(10, TX_DEFAULT, 0))
    await store.install(old)
    new = item(2, profile(10, TX_DEFAULT, 4, limit=10.0))
    assert list(await store.install(new)) == [old]
    assert list(await store.installed("CP1")) == [new]


@pytest.mark.anyio
async def test_same_connector_purpose_and_stack_level_replaces(
    store: ChargingProfileStore,
) -> None:
    old = item(1, profile(10, TX_DEFAULT, 2))
    await store.install(old)
    new = item(1, profile(11, TX_DEFAULT, 2, limit=6.0))
    assert list(await store.install(new)) == [old]
    assert list(await store.installed("CP1")) == [new]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("connector", "purpose", "stack_level"),
    [(2, TX_DEFAULT, 2), (1, TX, 2), (1, TX_DEFAULT, 3), (0, TX_DEFAULT, 2)],
    ids=["other connector", "other purpose", "other stack level", "connector 0"],
)
async def test_a_differing_key_adds_beside(
    store: ChargingProfileStore,
    connector: int,
    purpose: ChargingProfilePurposeType,
    stack_level: int,
) -> None:
    old = item(1, profile(10, TX_DEFAULT, 2))
    await store.install(old)
    new = item(connector, profile(11, purpose, stack_level))
    assert list(await store.install(new)) == []
    assert sorted(ids(await store.installed("CP1"))) == [10, 11]


@pytest.mark.anyio
async def test_one_install_can_replace_two(store: ChargingProfileStore) -> None:
    by_id = item(2, profile(10, TX_DEFAULT, 0))
    by_key = item(1, profile(11, TX_DEFAULT, 1))
    other = item(1, profile(12, TX_DEFAULT, 2))
    for i in (by_id, by_key, other):
        await store.install(i)
    new = item(1, profile(10, TX_DEFAULT, 1))
    assert sorted(ids(await store.install(new))) == [10, 11]
    assert sorted(ids(await store.installed("CP1"))) == [10, 12]
    assert (await store.installed("CP1", connector_id=1))[0] == new


@pytest.mark.anyio
async def test_installing_the_same_profile_again_changes_nothing(
    store: ChargingProfileStore,
) -> None:
    same = item(1, profile(10))
    await store.install(same)
    assert list(await store.install(same)) == [same]
    assert list(await store.installed("CP1")) == [same]


# --- clear (§5.5, §6.15) ---------------------------------------------------------------------

CLEAR_SET = {
    1: item(0, profile(1, CP_MAX, 0)),
    2: item(0, profile(2, TX_DEFAULT, 1)),
    3: item(1, profile(3, TX_DEFAULT, 1)),
    4: item(1, profile(4, TX, 2, transaction_id=7)),
    5: item(2, profile(5, TX_DEFAULT, 2)),
    6: item(2, profile(6, TX, 1)),
}

CLEAR_CASES: list[tuple[dict[str, object], set[int]]] = [
    ({}, {1, 2, 3, 4, 5, 6}),
    ({"charging_profile_id": 3}, {3}),
    ({"charging_profile_id": 3, "connector_id": 2, "purpose": CP_MAX, "stack_level": 0}, {3}),
    ({"charging_profile_id": 99}, set()),
    ({"charging_profile_id": 99, "connector_id": 1}, set()),
    ({"connector_id": 0}, {1, 2}),
    ({"connector_id": 1}, {3, 4}),
    ({"purpose": TX_DEFAULT}, {2, 3, 5}),
    ({"stack_level": 1}, {2, 3, 6}),
    ({"connector_id": 1, "purpose": TX_DEFAULT}, {3}),
    ({"connector_id": 2, "stack_level": 1}, {6}),
    ({"purpose": TX_DEFAULT, "stack_level": 2}, {5}),
    ({"connector_id": 1, "purpose": TX, "stack_level": 2}, {4}),
    ({"connector_id": 1, "purpose": TX_DEFAULT, "stack_level": 2}, set()),
    ({"connector_id": 3}, set()),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("criteria", "expected"), CLEAR_CASES, ids=lambda v: repr(v))
async def test_clear_removes_exactly_the_matching_profiles(
    store: ChargingProfileStore, criteria: dict[str, object], expected: set[int]
) -> None:
    for i in CLEAR_SET.values():
        await store.install(i)
    removed = await store.clear("CP1", **criteria)  # type: ignore[arg-type]
    assert list(removed) == sorted(
        (CLEAR_SET[k] for k in expected), key=lambda i: (i.connector_id, ids([i])[0])
    )
    assert set(ids(await store.installed("CP1"))) == set(CLEAR_SET) - expected
    assert list(await store.clear("CP1", **criteria)) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(("criteria", "expected"), CLEAR_CASES, ids=lambda v: repr(v))
def test_clear_matches_is_the_rule_the_cases_state(
    criteria: dict[str, object], expected: set[int]
) -> None:
    assert {k for k, i in CLEAR_SET.items() if clear_matches(i, **criteria)} == expected  # type: ignore[arg-type]


# --- TxProfiles of a stopped transaction (§3.13.1) ------------------------------------------


@pytest.mark.anyio
async def test_drop_transaction_profiles(store: ChargingProfileStore) -> None:
    named = item(1, profile(1, TX, 0, transaction_id=7))
    unnamed_here = item(1, profile(2, TX, 1))
    unnamed_elsewhere = item(2, profile(3, TX, 0))
    other_tx = item(2, profile(4, TX, 1, transaction_id=8))
    default_here = item(1, profile(5, TX_DEFAULT, 0))
    for i in (named, unnamed_here, unnamed_elsewhere, other_tx, default_here):
        await store.install(i)
    assert list(await store.drop_transaction_profiles("CP1", 7)) == [named]
    await store.install(named)
    dropped = await store.drop_transaction_profiles("CP1", 7, connector_id=1)
    assert list(dropped) == [named, unnamed_here]
    assert list(await store.drop_transaction_profiles("CP1", 7, connector_id=1)) == []
    assert ids(await store.installed("CP1")) == [5, 3, 4]


@pytest.mark.anyio
async def test_drop_transaction_profiles_stays_on_its_charge_point(
    store: ChargingProfileStore,
) -> None:
    theirs = item(1, profile(1, TX, 0, transaction_id=7), "CP2")
    await store.install(theirs)
    assert list(await store.drop_transaction_profiles("CP1", 7, connector_id=1)) == []
    assert list(await store.installed("CP2")) == [theirs]


# --- property: the store never holds what a charge point could not ---------------------------

installs = st.builds(
    item,
    connector_id=st.integers(0, 2),
    p=st.builds(
        profile,
        profile_id=st.integers(1, 6),
        purpose=st.sampled_from([CP_MAX, TX_DEFAULT, TX]),
        stack_level=st.integers(0, 2),
    ),
    charge_point_id=st.sampled_from(["CP1", "CP2"]),
)


def same_slot(new: InstalledChargingProfile, old: InstalledChargingProfile) -> bool:
    """The replacement rule, written out independently of the store module."""
    if new.charge_point_id != old.charge_point_id:
        return False
    if new.profile.charging_profile_id == old.profile.charging_profile_id:
        return True
    key = (new.connector_id, new.profile.charging_profile_purpose, new.profile.stack_level)
    return key == (old.connector_id, old.profile.charging_profile_purpose, old.profile.stack_level)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("factory", list(STORE_FACTORIES.values()), ids=list(STORE_FACTORIES))
@given(sequence=st.lists(installs, min_size=1, max_size=25))
def test_installs_keep_ids_and_keys_unique(
    factory: StoreFactory, backend: str, sequence: list[InstalledChargingProfile]
) -> None:
    async def body() -> None:
        with opened(factory) as made:
            store = made.charging_profiles
            if store is None:
                pytest.skip("no charging profile store")
            model: list[InstalledChargingProfile] = []
            for new in sequence:
                removed = await store.install(new)
                gone = [old for old in model if same_slot(new, old)]
                assert sorted(ids(removed)) == sorted(ids(gone))
                model = [old for old in model if old not in gone] + [new]
            for cp in ("CP1", "CP2"):
                held = list(await store.installed(cp))
                mine = [i for i in model if i.charge_point_id == cp]
                assert sorted(ids(held)) == sorted(ids(mine))
                assert {ids([i])[0]: i for i in held} == {ids([i])[0]: i for i in mine}
                keys = [
                    (i.connector_id, i.profile.charging_profile_purpose, i.profile.stack_level)
                    for i in held
                ]
                assert len(set(keys)) == len(keys)

    anyio.run(body, backend=backend)
