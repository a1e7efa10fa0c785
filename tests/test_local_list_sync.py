"""Local Auth List Management operations against a simulated charge point (§5.10, §5.15)."""

from __future__ import annotations

from collections.abc import Iterable

import anyio
import attrs
import pytest

from harness import connected, make_central_system
from ocpp16csms import CentralSystem
from ocpp16csms.datatypes import (
    AuthorizationData,
    IdTagInfo,
)
from ocpp16csms.enums import (
    AuthorizationStatus,
    UpdateStatus,
    UpdateType,
)
from ocpp16csms.errors import (
    CallErrorReceived,
    CallTimeout,
    ErrorCode,
    InvalidRequest,
)
from ocpp16csms.messages.local_auth_list import (
    GetLocalListVersionRequest,
    GetLocalListVersionResponse,
    SendLocalListRequest,
    SendLocalListResponse,
)
from ocpp16csms.profiles.local_auth_list import (
    LocalListError,
    LocalListState,
    LocalListSyncOutcome,
    LocalListSyncResult,
    apply_send_local_list,
)
from ocpp16csms.stores import StoreError
from ocpp16csms.testing import ChargePointSimulator

pytestmark = pytest.mark.anyio

OK = IdTagInfo(status=AuthorizationStatus.ACCEPTED)
BLOCKED = IdTagInfo(status=AuthorizationStatus.BLOCKED)

HANG = "hang"
"""A scripted SendLocalList answer: never answer (the central system's call times out)."""


def entry(id_tag: str, info: IdTagInfo | None = OK) -> AuthorizationData:
    return AuthorizationData(id_tag=id_tag, id_tag_info=info)


def tags(*names: str) -> list[AuthorizationData]:
    return [entry(name) for name in names]


def as_map(entries: Iterable[AuthorizationData]) -> dict[str, IdTagInfo | None]:
    """A list as id tag (casefolded) → info; fails on a duplicate, which a list never has."""
    materialised = list(entries)
    mapped = {item.id_tag.casefold(): item.id_tag_info for item in materialised}
    assert len(mapped) == len(materialised), f"duplicate id tag in {materialised}"
    return mapped


class LocalListModel:
    """The local list of a simulated charge point, answering as §5.10 and §5.15 say.

    GetLocalListVersion answers ``version`` (0 while the list is empty, §5.10). SendLocalList
    is applied with :func:`apply_send_local_list`, honouring SendLocalListMaxLength and
    LocalAuthListMaxLength from the simulator's configuration: what the model refuses is
    answered VersionMismatch (a Differential at a version not above the list's) or Failed.
    ``script`` holds answers to give first, one per SendLocalList: a status other than
    Accepted is answered without touching the list, :data:`HANG` is never answered.
    """

    def __init__(self, cp: ChargePointSimulator) -> None:
        self.cp = cp
        self.entries: tuple[AuthorizationData, ...] = ()
        self.version = 0
        self.script: list[UpdateStatus | str] = []
        cp.answer("GetLocalListVersion", self.get_version)
        cp.answer("SendLocalList", self.send)

    def lose_list(self) -> None:
        """What a charge point does after a factory reset."""
        self.entries, self.version = (), 0

    def limit(self, key: str) -> int | None:
        value = self.cp.configuration.get(key)
        return None if value is None else int(value[0])

    def get_version(self, request: GetLocalListVersionRequest) -> GetLocalListVersionResponse:
        return GetLocalListVersionResponse(list_version=self.version if self.entries else 0)

    async def send(self, request: SendLocalListRequest) -> SendLocalListResponse:
        scripted = self.script.pop(0) if self.script else UpdateStatus.ACCEPTED
        if scripted == HANG:
            await anyio.sleep_forever()
        if scripted is not UpdateStatus.ACCEPTED:
            return SendLocalListResponse(status=UpdateStatus(scripted))
        per_request = self.limit("SendLocalListMaxLength")
        if per_request is not None and len(request.local_authorization_list or ()) > per_request:
            return SendLocalListResponse(status=UpdateStatus.FAILED)
        try:
            entries, version = apply_send_local_list(self.entries, self.version, request)
        except LocalListError:
            refused = (
                UpdateStatus.VERSION_MISMATCH
                if request.update_type is UpdateType.DIFFERENTIAL
                and request.list_version <= self.version
                else UpdateStatus.FAILED
            )
            return SendLocalListResponse(status=refused)
        most = self.limit("LocalAuthListMaxLength")
        if most is not None and len(entries) > most:
            return SendLocalListResponse(status=UpdateStatus.FAILED)
        self.entries, self.version = entries, version
        return SendLocalListResponse(status=UpdateStatus.ACCEPTED)


async def acknowledged(cs: CentralSystem, charge_point_id: str = "CP1") -> LocalListState | None:
    assert cs.stores.local_lists is not None
    return await cs.stores.local_lists.get(charge_point_id)


async def assert_in_sync(
    cs: CentralSystem, model: LocalListModel, desired: Iterable[AuthorizationData]
) -> None:
    """The charge point holds ``desired``, and the store records just that, at its version."""
    expected = as_map(desired)
    assert as_map(model.entries) == expected
    state = await acknowledged(cs)
    assert state is not None
    assert as_map(state.entries) == expected
    assert state.version == model.version


def sent_lists(cp: ChargePointSimulator) -> list[SendLocalListRequest]:
    return cp.received_of(SendLocalListRequest)


def shape(result: LocalListSyncResult) -> list[tuple[UpdateType, int, int]]:
    return [
        (r.update_type, r.list_version, len(r.local_authorization_list or ()))
        for r in result.requests_sent
    ]


async def configure(cs: CentralSystem, cp: ChargePointSimulator, **keys: int) -> None:
    for key, value in keys.items():
        cp.configuration[key] = (str(value), True)
    await cs.core.get_configuration("CP1")


# -- sync ----------------------------------------------------------------------------------------


async def test_first_sync_sends_one_full() -> None:
    cs = make_central_system()
    desired = tags("A", "B", "C")
    async with connected(cs) as cp:
        model = LocalListModel(cp)
        result = await cs.local_auth_list.sync_local_list("CP1", desired)
        await assert_in_sync(cs, model, desired)
    assert result.outcome is LocalListSyncOutcome.UPDATED
    assert shape(result) == [(UpdateType.FULL, 1, 3)]
    assert (result.reported_version, result.final_version) == (0, 1)
    assert sent_lists(cp) == list(result.requests_sent)
    assert [type(r) for r in cp.received] == [GetLocalListVersionRequest, SendLocalListRequest]


async def test_small_change_sends_a_differential() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        model = LocalListModel(cp)
        await cs.local_auth_list.sync_local_list("CP1", tags("A", "B", "C", "D", "E"))
        desired = [entry("a"), entry("B", BLOCKED), entry("C"), entry("E"), entry("F")]
        result = await cs.local_auth_list.sync_local_list("CP1", desired)
        await assert_in_sync(cs, model, desired)
    assert result.outcome is LocalListSyncOutcome.UPDATED
    assert shape(result) == [(UpdateType.DIFFERENTIAL, 2, 3)]
    assert result.requests_sent[0].local_authorization_list == (
        AuthorizationData(id_tag="D"),
        entry("B", BLOCKED),
        entry("F"),
    )
    assert (result.reported_version, result.final_version) == (1, 2)


async def test_unchanged_list_sends_nothing() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        model = LocalListModel(cp)
        await cs.local_auth_list.sync_local_list("CP1", tags("A", "B"))
        before = list(cp.received)
        # A change of case alone is no change: id tags are CiString20 (§3.5).
        result = await cs.local_auth_list.sync_local_list("CP1", tags("b", "a"))
        await assert_in_sync(cs, model, tags("A", "B"))
    assert result.outcome is LocalListSyncOutcome.UP_TO_DATE
    assert result.requests_sent == ()
    assert (result.reported_version, result.final_version) == (1, 1)
    assert cp.received[len(before) :] == [GetLocalListVersionRequest()]


async def test_charge_point_that_lost_its_list_gets_a_full() -> None:
    cs = make_central_system()
    desired = tags("A", "B", "C", "D")
    async with connected(cs) as cp:
        model = LocalListModel(cp)
        await cs.local_auth_list.sync_local_list("CP1", desired)
        model.lose_list()
        result = await cs.local_auth_list.sync_local_list("CP1", desired)
        await assert_in_sync(cs, model, desired)
    assert result.outcome is LocalListSyncOutcome.UPDATED
    # Versions never go down: the Full follows the acknowledged version 1, not the reported 0.
    assert shape(result) == [(UpdateType.FULL, 2, 4)]
    assert result.reported_version == 0
    assert "reported version 0, not the acknowledged 1" in result.reason


async def test_lost_list_that_should_be_empty_is_recorded_empty() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        model = LocalListModel(cp)
        await cs.local_auth_list.sync_local_list("CP1", tags("A", "B"))
        model.lose_list()
        result = await cs.local_auth_list.sync_local_list("CP1", [])
        assert as_map(model.entries) == {}
        state = await acknowledged(cs)
    assert result.outcome is LocalListSyncOutcome.UP_TO_DATE
    assert sent_lists(cp)[1:] == []
    assert state == LocalListState(version=1, entries=())


async def test_clearing_the_list_sends_an_empty_full_once() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        model = LocalListModel(cp)
        await cs.local_auth_list.sync_local_list("CP1", tags("A", "B"))
        cleared = await cs.local_auth_list.sync_local_list("CP1", [])
        await assert_in_sync(cs, model, [])
        # The charge point now reports 0 (§5.10); that is not a reason to clear it again.
        again = await cs.local_auth_list.sync_local_list("CP1", [])
        state = await acknowledged(cs)
    assert cleared.outcome is LocalListSyncOutcome.UPDATED
    assert shape(cleared) == [(UpdateType.FULL, 2, 0)]
    assert cleared.requests_sent[0].local_authorization_list == ()
    assert again.outcome is LocalListSyncOutcome.UP_TO_DATE
    assert again.requests_sent == ()
    assert state == LocalListState(version=2, entries=())


async def test_version_mismatch_resends_a_full_once() -> None:
    cs = make_central_system()
    desired = [entry("A"), entry("B", BLOCKED), entry("C"), entry("D")]
    async with connected(cs) as cp:
        model = LocalListModel(cp)
        await cs.local_auth_list.sync_local_list("CP1", tags("A", "B", "C", "D"))
        model.script = [UpdateStatus.VERSION_MISMATCH]
        result = await cs.local_auth_list.sync_local_list("CP1", desired)
        await assert_in_sync(cs, model, desired)
    assert result.outcome is LocalListSyncOutcome.UPDATED
    assert shape(result) == [(UpdateType.DIFFERENTIAL, 2, 1), (UpdateType.FULL, 2, 4)]
    assert len(cp.received_of(GetLocalListVersionRequest)) == 3
    assert "VersionMismatch" in result.reason


async def test_failed_twice_is_failed_after_two_requests() -> None:
    cs = make_central_system()
    first = tags("A", "B", "C")
    async with connected(cs) as cp:
        model = LocalListModel(cp)
        await cs.local_auth_list.sync_local_list("CP1", first)
        before = len(sent_lists(cp))
        model.script = [UpdateStatus.FAILED, UpdateStatus.FAILED, UpdateStatus.FAILED]
        result = await cs.local_auth_list.sync_local_list("CP1", tags("A", "B", "C", "D"))
        # Nothing was accepted: the charge point and the store still hold the first list.
        await assert_in_sync(cs, model, first)
    assert result.outcome is LocalListSyncOutcome.FAILED
    assert len(sent_lists(cp)) - before == 2
    assert shape(result) == [(UpdateType.DIFFERENTIAL, 2, 1), (UpdateType.FULL, 2, 4)]
    assert model.script == [UpdateStatus.FAILED]
    assert result.final_version == 1
    assert "Failed" in result.reason


async def test_not_supported_status_is_not_retried() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        model = LocalListModel(cp)
        model.script = [UpdateStatus.NOT_SUPPORTED]
        result = await cs.local_auth_list.sync_local_list("CP1", tags("A"))
        state = await acknowledged(cs)
    assert result.outcome is LocalListSyncOutcome.NOT_SUPPORTED
    assert shape(result) == [(UpdateType.FULL, 1, 1)]
    assert len(sent_lists(cp)) == 1
    assert state is None
    assert model.entries == ()


async def test_version_minus_one_means_no_local_list() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        LocalListModel(cp)
        cp.answer("GetLocalListVersion", GetLocalListVersionResponse(list_version=-1))
        result = await cs.local_auth_list.sync_local_list("CP1", tags("A"))
        state = await acknowledged(cs)
    assert result.outcome is LocalListSyncOutcome.NOT_SUPPORTED
    assert (result.reported_version, result.final_version) == (-1, -1)
    assert result.requests_sent == ()
    assert sent_lists(cp) == []
    assert state is None


async def test_a_version_below_minus_one_fails_without_sending() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        LocalListModel(cp)
        cp.answer("GetLocalListVersion", GetLocalListVersionResponse(list_version=-3))
        result = await cs.local_auth_list.sync_local_list("CP1", tags("A"))
    assert result.outcome is LocalListSyncOutcome.FAILED
    assert sent_lists(cp) == []


@pytest.mark.parametrize("action", ["GetLocalListVersion", "SendLocalList"])
@pytest.mark.parametrize("code", [ErrorCode.NOT_SUPPORTED, ErrorCode.NOT_IMPLEMENTED])
async def test_unsupported_call_error_means_no_local_list(action: str, code: ErrorCode) -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        LocalListModel(cp)
        cp.answer(action, error=code, description="no local list here")
        result = await cs.local_auth_list.sync_local_list("CP1", tags("A"))
        state = await acknowledged(cs)
    assert result.outcome is LocalListSyncOutcome.NOT_SUPPORTED
    assert code.value in result.reason
    assert len(sent_lists(cp)) == (action == "SendLocalList")
    assert len(cp.received_of(GetLocalListVersionRequest)) == 1
    assert state is None


async def test_other_call_errors_propagate() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        LocalListModel(cp)
        cp.answer("SendLocalList", error=ErrorCode.INTERNAL_ERROR)
        with pytest.raises(CallErrorReceived) as caught:
            await cs.local_auth_list.sync_local_list("CP1", tags("A"))
        state = await acknowledged(cs)
    assert caught.value.code == "InternalError"
    assert state is None


async def test_chunks_follow_send_local_list_max_length() -> None:
    cs = make_central_system()
    desired = tags("A", "B", "C", "D", "E")
    async with connected(cs) as cp:
        model = LocalListModel(cp)
        await configure(cs, cp, SendLocalListMaxLength=2, LocalAuthListMaxLength=10)
        result = await cs.local_auth_list.sync_local_list("CP1", desired)
        await assert_in_sync(cs, model, desired)
        changed = [entry("A", BLOCKED), entry("B", BLOCKED), entry("C", BLOCKED), *tags("D", "E")]
        second = await cs.local_auth_list.sync_local_list("CP1", changed)
        await assert_in_sync(cs, model, changed)
    assert result.outcome is LocalListSyncOutcome.UPDATED
    assert shape(result) == [
        (UpdateType.FULL, 1, 2),
        (UpdateType.DIFFERENTIAL, 2, 2),
        (UpdateType.DIFFERENTIAL, 3, 1),
    ]
    assert shape(second) == [(UpdateType.DIFFERENTIAL, 4, 2), (UpdateType.DIFFERENTIAL, 5, 1)]
    assert all(len(r.local_authorization_list or ()) <= 2 for r in sent_lists(cp))


async def test_accepted_chunks_are_kept_when_a_later_one_fails() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        model = LocalListModel(cp)
        await configure(cs, cp, SendLocalListMaxLength=2)
        model.script = [UpdateStatus.ACCEPTED, UpdateStatus.FAILED, UpdateStatus.FAILED]
        result = await cs.local_auth_list.sync_local_list("CP1", tags("A", "B", "C", "D", "E"))
        # The first chunk was accepted: both sides hold it at version 1.
        await assert_in_sync(cs, model, tags("A", "B"))
    assert result.outcome is LocalListSyncOutcome.FAILED
    assert shape(result) == [
        (UpdateType.FULL, 1, 2),
        (UpdateType.DIFFERENTIAL, 2, 2),
        (UpdateType.FULL, 2, 2),
    ]
    assert result.final_version == 1


async def test_accepted_chunks_are_kept_when_the_call_times_out() -> None:
    cs = make_central_system(call_timeout=0.2)
    async with connected(cs) as cp:
        model = LocalListModel(cp)
        await configure(cs, cp, SendLocalListMaxLength=1)
        model.script = [UpdateStatus.ACCEPTED, HANG]
        with pytest.raises(CallTimeout):
            await cs.local_auth_list.sync_local_list("CP1", tags("A", "B", "C"))
        await assert_in_sync(cs, model, tags("A"))


async def test_desired_list_over_local_auth_list_max_length_sends_nothing() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        LocalListModel(cp)
        await configure(cs, cp, LocalAuthListMaxLength=3)
        before = list(cp.received)
        with pytest.raises(LocalListError, match="LocalAuthListMaxLength"):
            await cs.local_auth_list.sync_local_list("CP1", tags("A", "B", "C", "D"))
    assert cp.received == before
    assert await acknowledged(cs) is None


@pytest.mark.parametrize(
    ("desired", "match"),
    [
        ([entry("Tag7"), entry("tAG7")], "duplicate id tag"),
        ([entry("A"), entry("B", None)], "no id_tag_info"),
    ],
)
async def test_invalid_desired_list_sends_nothing(
    desired: list[AuthorizationData], match: str
) -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        LocalListModel(cp)
        with pytest.raises(LocalListError, match=match):
            await cs.local_auth_list.sync_local_list("CP1", desired)
    assert cp.received == []


async def test_every_operation_needs_a_local_list_store() -> None:
    stores = attrs.evolve(make_central_system().stores, local_lists=None)
    cs = make_central_system(stores=stores)
    async with connected(cs) as cp:
        with pytest.raises(StoreError, match="local_lists"):
            await cs.local_auth_list.sync_local_list("CP1", tags("A"))
        with pytest.raises(StoreError, match="local_lists"):
            await cs.local_auth_list.send_local_list(
                "CP1", version=1, update_type=UpdateType.FULL, entries=tags("A")
            )
    assert cp.received == []


# -- GetLocalListVersion and SendLocalList ---------------------------------------------------------


async def test_get_local_list_version() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        model = LocalListModel(cp)
        model.entries, model.version = tuple(tags("A")), 17
        response = await cs.local_auth_list.get_local_list_version("CP1")
    assert response == GetLocalListVersionResponse(list_version=17)
    assert cp.received == [GetLocalListVersionRequest()]


async def test_send_local_list_records_what_is_accepted() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        model = LocalListModel(cp)
        full = await cs.local_auth_list.send_local_list(
            "CP1", version=3, update_type=UpdateType.FULL, entries=tags("A", "B", "C")
        )
        await assert_in_sync(cs, model, tags("A", "B", "C"))
        differential = await cs.local_auth_list.send_local_list(
            "CP1",
            version=4,
            update_type=UpdateType.DIFFERENTIAL,
            entries=[AuthorizationData(id_tag="b"), entry("C", BLOCKED), entry("D")],
        )
        desired = [entry("A"), entry("C", BLOCKED), entry("D")]
        await assert_in_sync(cs, model, desired)
        model.script = [UpdateStatus.FAILED]
        failed = await cs.local_auth_list.send_local_list(
            "CP1", version=9, update_type=UpdateType.FULL, entries=tags("X")
        )
        await assert_in_sync(cs, model, desired)
    assert full.status is UpdateStatus.ACCEPTED
    assert differential.status is UpdateStatus.ACCEPTED
    assert failed.status is UpdateStatus.FAILED
    assert [r.list_version for r in sent_lists(cp)] == [3, 4, 9]


async def test_differential_without_an_acknowledged_list_records_nothing() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        model = LocalListModel(cp)
        model.entries, model.version = tuple(tags("OLD")), 2
        response = await cs.local_auth_list.send_local_list(
            "CP1", version=3, update_type=UpdateType.DIFFERENTIAL, entries=tags("NEW")
        )
        state = await acknowledged(cs)
        # The next sync does not trust a list it never saw accepted as a whole.
        result = await cs.local_auth_list.sync_local_list("CP1", tags("NEW"))
        await assert_in_sync(cs, model, tags("NEW"))
    assert response.status is UpdateStatus.ACCEPTED
    assert state is None
    assert shape(result) == [(UpdateType.FULL, 4, 1)]


_BAD_SENDS: list[tuple[int, UpdateType, list[AuthorizationData], str]] = [
    (0, UpdateType.FULL, tags("A"), "version 0"),
    (-1, UpdateType.FULL, tags("A"), "version -1"),
    (5, UpdateType.FULL, [entry("A", None)], "no id_tag_info"),
    (5, UpdateType.FULL, [entry("Tag7"), entry("tAG7")], "duplicate id tag"),
    (5, UpdateType.DIFFERENTIAL, [entry("A"), AuthorizationData(id_tag="a")], "duplicate"),
    (5, UpdateType.FULL, tags("A", "B", "C"), "SendLocalListMaxLength"),
    (5, UpdateType.DIFFERENTIAL, tags("C", "D"), "LocalAuthListMaxLength"),
    (2, UpdateType.DIFFERENTIAL, tags("C"), "acknowledged version 2"),
]


@pytest.mark.parametrize(("version", "update_type", "entries", "match"), _BAD_SENDS)
async def test_send_local_list_checks_before_sending(
    version: int, update_type: UpdateType, entries: list[AuthorizationData], match: str
) -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        model = LocalListModel(cp)
        await configure(cs, cp, SendLocalListMaxLength=2, LocalAuthListMaxLength=3)
        await cs.local_auth_list.send_local_list(
            "CP1", version=2, update_type=UpdateType.FULL, entries=tags("A", "B")
        )
        before = list(cp.received)
        with pytest.raises(InvalidRequest, match=match):
            await cs.local_auth_list.send_local_list(
                "CP1", version=version, update_type=update_type, entries=entries
            )
        assert cp.received == before
        await assert_in_sync(cs, model, tags("A", "B"))


async def test_refused_clear_is_sent_again_as_an_empty_full() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        model = LocalListModel(cp)
        await cs.local_auth_list.sync_local_list("CP1", tags("A", "B"))
        model.script = [UpdateStatus.FAILED]
        result = await cs.local_auth_list.sync_local_list("CP1", [])
        await assert_in_sync(cs, model, [])
    assert result.outcome is LocalListSyncOutcome.UPDATED
    # The charge point still reports version 1 after refusing: its list is unknown, so the
    # empty Full goes again rather than trusting the version.
    assert shape(result) == [(UpdateType.FULL, 2, 0), (UpdateType.FULL, 2, 0)]


async def test_concurrent_syncs_of_one_charge_point_do_not_interleave() -> None:
    cs = make_central_system()
    first, second = tags("A", "B", "C", "D", "E"), tags("V", "W", "X", "Y", "Z")
    async with connected(cs) as cp:
        model = LocalListModel(cp)
        await configure(cs, cp, SendLocalListMaxLength=2)
        results: list[LocalListSyncResult] = []

        async def sync(desired: list[AuthorizationData]) -> None:
            results.append(await cs.local_auth_list.sync_local_list("CP1", desired))

        async with anyio.create_task_group() as group:
            group.start_soon(sync, first)
            group.start_soon(sync, second)
        winner = first if as_map(model.entries) == as_map(first) else second
        await assert_in_sync(cs, model, winner)
    assert [r.outcome for r in results] == [LocalListSyncOutcome.UPDATED] * 2
    # One after the other: each sent a Full and its chunks, nothing was refused.
    assert [len(r.requests_sent) for r in results] == [3, 3]
