"""Local list diffing and planning (§3.5, §5.10, §5.15), checked against a charge point model."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from ocpp16csms.datatypes import (
    AuthorizationData,
    IdTagInfo,
)
from ocpp16csms.enums import (
    AuthorizationStatus,
    UpdateType,
)
from ocpp16csms.errors import InvalidRequest
from ocpp16csms.messages.local_auth_list import SendLocalListRequest
from ocpp16csms.profiles.local_auth_list import (
    LocalListError,
    LocalListPlan,
    apply_send_local_list,
    diff_local_list,
    plan_local_list_update,
)

# A tiny mixed-case alphabet, so that case-only differences and collisions are common.
id_tags = st.text(alphabet="aAbBc", min_size=1, max_size=3)
infos = st.builds(
    IdTagInfo,
    status=st.sampled_from([AuthorizationStatus.ACCEPTED, AuthorizationStatus.BLOCKED]),
    expiry_date=st.none() | st.just(datetime(2030, 1, 1, tzinfo=UTC)),
    parent_id_tag=st.none() | st.just("P"),
)
entries = st.builds(AuthorizationData, id_tag=id_tags, id_tag_info=infos)
local_lists = st.lists(entries, max_size=25, unique_by=lambda e: e.id_tag.casefold())
versions = st.integers(min_value=0, max_value=5)


@st.composite
def edited(draw: st.DrawFn, acknowledged: list[AuthorizationData]) -> list[AuthorizationData]:
    """A desired list close to ``acknowledged``, so that Differential plans come up often."""
    desired = []
    for item in acknowledged:
        edit = draw(st.sampled_from(["keep", "keep", "keep", "case", "info", "drop"]))
        if edit == "case":
            desired.append(
                AuthorizationData(id_tag=item.id_tag.swapcase(), id_tag_info=item.id_tag_info)
            )
        elif edit == "info":
            desired.append(AuthorizationData(id_tag=item.id_tag, id_tag_info=draw(infos)))
        elif edit == "keep":
            desired.append(item)
    taken = {item.id_tag.casefold() for item in acknowledged}
    desired += [e for e in draw(local_lists) if e.id_tag.casefold() not in taken][:3]
    return desired


def entry(
    id_tag: str, status: AuthorizationStatus = AuthorizationStatus.ACCEPTED
) -> AuthorizationData:
    return AuthorizationData(id_tag=id_tag, id_tag_info=IdTagInfo(status=status))


def as_map(items: Iterable[AuthorizationData]) -> dict[str, IdTagInfo | None]:
    return {item.id_tag.casefold(): item.id_tag_info for item in items}


def run(
    plan: LocalListPlan, held: tuple[AuthorizationData, ...], version: int
) -> tuple[tuple[AuthorizationData, ...], int, int]:
    """Apply the plan to the charge point model; also return the longest list seen on the way."""
    longest = len(held)
    for request in plan.requests:
        held, version = apply_send_local_list(held, version, request)
        longest = max(longest, len(held))
    return held, version, longest


@given(
    lists=local_lists.flatmap(lambda a: st.tuples(st.just(a), local_lists | edited(a))),
    acknowledged_version=versions,
    other=local_lists,
    charge_point_version=st.none() | versions,
    chunk=st.none() | st.integers(min_value=1, max_value=6),
)
def test_planned_requests_give_the_charge_point_the_desired_list(
    lists: tuple[list[AuthorizationData], list[AuthorizationData]],
    acknowledged_version: int,
    other: list[AuthorizationData],
    charge_point_version: int | None,
    chunk: int | None,
) -> None:
    acknowledged, desired = lists
    reported = acknowledged_version if charge_point_version is None else charge_point_version
    # What the charge point really holds: the acknowledged list when the versions agree, an
    # empty one at version 0 (§5.10), anything at all otherwise.
    if reported == 0:
        held: tuple[AuthorizationData, ...] = ()
    elif reported == acknowledged_version:
        held = tuple(acknowledged)
    else:
        held = tuple(other)
    plan = plan_local_list_update(
        acknowledged=acknowledged,
        acknowledged_version=acknowledged_version,
        desired=desired,
        send_local_list_max_length=chunk,
        local_auth_list_max_length=len(desired),
        charge_point_version=charge_point_version,
    )
    final, final_version, longest = run(plan, held, reported)

    assert as_map(final) == as_map(desired)
    assert final == plan.final_list
    if plan.requests:
        assert final_version == plan.final_version
    else:
        # Nothing sent: the charge point keeps its version, the record never goes down.
        assert plan.final_version == max(acknowledged_version, reported)
    assert plan.final_version >= acknowledged_version
    found = [request.list_version for request in plan.requests]
    assert found == sorted(set(found))
    assert all(v > max(acknowledged_version, charge_point_version or 0) for v in found)
    if chunk is not None:
        assert all(len(r.local_authorization_list or ()) <= chunk for r in plan.requests)
    assert longest <= max(len(held), len(desired))
    if plan.kind is None:
        assert plan.requests == ()
    else:
        assert plan.requests[0].update_type is plan.kind
        assert all(r.update_type is UpdateType.DIFFERENTIAL for r in plan.requests[1:])
    if plan.kind is UpdateType.DIFFERENTIAL:
        assert reported == acknowledged_version > 0
    event(f"{plan.kind} in {min(len(plan.requests), 2)} requests")


@given(local_lists)
def test_diff_of_a_list_with_itself_is_empty(items: list[AuthorizationData]) -> None:
    assert diff_local_list(items, items) == ()
    swapped = [
        AuthorizationData(id_tag=e.id_tag.swapcase(), id_tag_info=e.id_tag_info) for e in items
    ]
    assert diff_local_list(items, reversed(swapped)) == ()


@given(local_lists, local_lists)
def test_diff_then_apply_gives_desired(
    acknowledged: list[AuthorizationData], desired: list[AuthorizationData]
) -> None:
    diff = diff_local_list(acknowledged, desired)
    request = SendLocalListRequest(
        list_version=2, update_type=UpdateType.DIFFERENTIAL, local_authorization_list=diff
    )
    final, version = apply_send_local_list(acknowledged, 1, request)
    assert as_map(final) == as_map(desired)
    assert version == 2
    assert len(diff) == len({e.id_tag.casefold() for e in diff})
    # The order does not depend on the order of the inputs.
    assert diff_local_list(reversed(acknowledged), reversed(desired)) == diff


def test_diff_order_removals_changes_additions() -> None:
    acknowledged = [entry("b"), entry("Z"), entry("a"), entry("c")]
    desired = [entry("y"), entry("C", AuthorizationStatus.BLOCKED), entry("A"), entry("x")]
    assert diff_local_list(acknowledged, desired) == (
        AuthorizationData(id_tag="b"),
        AuthorizationData(id_tag="Z"),
        entry("C", AuthorizationStatus.BLOCKED),
        entry("x"),
        entry("y"),
    )


def test_case_change_alone_is_not_a_change() -> None:
    assert diff_local_list([entry("TAG1")], [entry("tag1")]) == ()
    plan = plan_local_list_update(
        acknowledged=[entry("TAG1")], acknowledged_version=3, desired=[entry("tag1")]
    )
    assert plan.kind is None
    assert plan.final_list == (entry("TAG1"),)  # the charge point keeps its spelling
    assert plan.final_version == 3


@pytest.mark.parametrize("which", ["acknowledged", "desired"])
def test_duplicates_are_refused_by_name(which: str) -> None:
    lists = {"acknowledged": [entry("a")], "desired": [entry("a")]}
    lists[which] = [entry("Tag7"), entry("x"), entry("tAG7", AuthorizationStatus.BLOCKED)]
    with pytest.raises(LocalListError, match=rf"duplicate id tag in the {which} list: 'tAG7'"):
        diff_local_list(lists["acknowledged"], lists["desired"])
    with pytest.raises(LocalListError, match="'Tag7'"):
        plan_local_list_update(
            acknowledged=lists["acknowledged"], acknowledged_version=1, desired=lists["desired"]
        )


def test_entry_without_info_in_a_list_is_refused() -> None:
    with pytest.raises(LocalListError, match="'gone' of the desired list has no id_tag_info"):
        diff_local_list([], [AuthorizationData(id_tag="gone")])
    assert issubclass(LocalListError, InvalidRequest)


def test_too_long_desired_list_is_refused() -> None:
    desired = [entry(f"t{i}") for i in range(4)]
    with pytest.raises(LocalListError, match=r"4 entries.*at most 3"):
        plan_local_list_update(
            acknowledged=[], acknowledged_version=0, desired=desired, local_auth_list_max_length=3
        )
    plan = plan_local_list_update(
        acknowledged=[], acknowledged_version=0, desired=desired, local_auth_list_max_length=4
    )
    assert plan.kind is UpdateType.FULL


def test_agreeing_versions_give_a_differential() -> None:
    acknowledged = [entry(f"t{i}") for i in range(10)]
    desired = [*acknowledged[1:], entry("new")]
    plan = plan_local_list_update(
        acknowledged=acknowledged, acknowledged_version=4, desired=desired, charge_point_version=4
    )
    assert plan.kind is UpdateType.DIFFERENTIAL
    assert plan.requests == (
        SendLocalListRequest(
            list_version=5,
            update_type=UpdateType.DIFFERENTIAL,
            local_authorization_list=(AuthorizationData(id_tag="t0"), entry("new")),
        ),
    )


def test_differing_charge_point_version_gives_a_full() -> None:
    acknowledged = [entry(f"t{i}") for i in range(10)]
    plan = plan_local_list_update(
        acknowledged=acknowledged,
        acknowledged_version=4,
        desired=acknowledged,
        charge_point_version=7,
    )
    assert plan.kind is UpdateType.FULL
    assert [r.list_version for r in plan.requests] == [8]
    assert plan.requests[0].local_authorization_list == tuple(acknowledged)


def test_version_zero_gives_a_full() -> None:
    acknowledged = [entry(f"t{i}") for i in range(10)]
    desired = acknowledged[1:]
    for acknowledged_version, charge_point_version in [(0, None), (0, 0), (6, 0)]:
        plan = plan_local_list_update(
            acknowledged=acknowledged,
            acknowledged_version=acknowledged_version,
            desired=desired,
            charge_point_version=charge_point_version,
        )
        assert plan.kind is UpdateType.FULL
        assert plan.requests[0].list_version == acknowledged_version + 1


def test_unsupported_or_negative_versions_are_refused() -> None:
    with pytest.raises(LocalListError, match="does not support"):
        plan_local_list_update(
            acknowledged=[], acknowledged_version=1, desired=[], charge_point_version=-1
        )
    with pytest.raises(LocalListError, match="-2"):
        plan_local_list_update(acknowledged=[], acknowledged_version=-2, desired=[])
    with pytest.raises(LocalListError, match="send_local_list_max_length is 0"):
        plan_local_list_update(
            acknowledged=[], acknowledged_version=1, desired=[], send_local_list_max_length=0
        )


def test_empty_desired_list() -> None:
    acknowledged = [entry("a"), entry("b")]
    plan = plan_local_list_update(acknowledged=acknowledged, acknowledged_version=3, desired=[])
    assert plan.kind is UpdateType.FULL
    assert plan.requests == (
        SendLocalListRequest(
            list_version=4, update_type=UpdateType.FULL, local_authorization_list=()
        ),
    )
    assert plan.final_list == ()
    assert plan.final_version == 4
    # A charge point that reports 0 after the clear holds an empty list (§5.10): no resend.
    # Its version stays 4 for the host to record: the next list goes out as 5, not 1 again.
    again = plan_local_list_update(
        acknowledged=(), acknowledged_version=4, desired=[], charge_point_version=0
    )
    assert again == LocalListPlan(requests=(), final_version=4, final_list=(), kind=None)
    fresh = plan_local_list_update(acknowledged=[], acknowledged_version=0, desired=[])
    assert fresh == LocalListPlan(requests=(), final_version=0, final_list=(), kind=None)


def test_a_charge_point_that_lost_its_list_does_not_move_the_version_down() -> None:
    # The host recorded two entries at version 7; the charge point now reports 0 (empty).
    acknowledged = [entry("a"), entry("b")]
    emptied = plan_local_list_update(
        acknowledged=acknowledged, acknowledged_version=7, desired=[], charge_point_version=0
    )
    assert emptied == LocalListPlan(requests=(), final_version=7, final_list=(), kind=None)
    refilled = plan_local_list_update(
        acknowledged=acknowledged,
        acknowledged_version=7,
        desired=acknowledged,
        charge_point_version=0,
    )
    assert refilled.kind is UpdateType.FULL
    assert [r.list_version for r in refilled.requests] == [8]
    assert refilled.final_version == 8


def test_full_is_chunked_into_a_full_then_differentials() -> None:
    desired = [entry(f"t{i}") for i in range(7)]
    plan = plan_local_list_update(
        acknowledged=[], acknowledged_version=2, desired=desired, send_local_list_max_length=3
    )
    assert [(r.update_type, r.list_version) for r in plan.requests] == [
        (UpdateType.FULL, 3),
        (UpdateType.DIFFERENTIAL, 4),
        (UpdateType.DIFFERENTIAL, 5),
    ]
    assert [r.local_authorization_list for r in plan.requests] == [
        tuple(desired[0:3]),
        tuple(desired[3:6]),
        tuple(desired[6:7]),
    ]
    assert plan.final_version == 5
    assert plan.final_list == tuple(desired)


def test_a_large_diff_falls_back_to_a_full() -> None:
    acknowledged = [entry(f"t{i}") for i in range(4)]
    desired = [entry("x"), entry("y")]
    plan = plan_local_list_update(
        acknowledged=acknowledged, acknowledged_version=1, desired=desired
    )
    assert plan.kind is UpdateType.FULL
    assert plan.requests[0].local_authorization_list == tuple(desired)


def test_apply_send_local_list_model() -> None:
    current = {"a": entry("a"), "b": entry("b")}
    differential = SendLocalListRequest(
        list_version=3,
        update_type=UpdateType.DIFFERENTIAL,
        local_authorization_list=(
            AuthorizationData(id_tag="A"),
            entry("B", AuthorizationStatus.BLOCKED),
            entry("c"),
            AuthorizationData(id_tag="never-there"),
        ),
    )
    assert apply_send_local_list(current, 2, differential) == (
        (entry("B", AuthorizationStatus.BLOCKED), entry("c")),
        3,
    )
    full = SendLocalListRequest(list_version=1, update_type=UpdateType.FULL)
    assert apply_send_local_list(current, 2, full) == ((), 1)
    with pytest.raises(LocalListError, match="VersionMismatch"):
        apply_send_local_list(current, 3, differential)
    with pytest.raises(LocalListError, match="no id_tag_info"):
        apply_send_local_list(
            [],
            0,
            SendLocalListRequest(
                list_version=1,
                update_type=UpdateType.FULL,
                local_authorization_list=(AuthorizationData(id_tag="x"),),
            ),
        )
    with pytest.raises(LocalListError, match="duplicate"):
        apply_send_local_list(
            [],
            0,
            SendLocalListRequest(
                list_version=1,
                update_type=UpdateType.DIFFERENTIAL,
                local_authorization_list=(entry("x"), AuthorizationData(id_tag="X")),
            ),
        )
