"""Local Auth List Management operations (OCPP 1.6 §3.5, §5.10, §5.15).

The central system keeps, per charge point, the list and version the charge point last
acknowledged (a :class:`~ocpp16csms.stores.LocalListStore`). :meth:`sync_local_list` brings a
charge point to a desired list with as little traffic as the acknowledged state allows; the
rules are in ``docs/local-auth-list.md``, section "Keeping charge points in sync".
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

import anyio
import attrs

from ...checks import build_request
from ...datatypes import AuthorizationData
from ...engine import Engine
from ...enums import UpdateStatus, UpdateType
from ...errors import CallErrorReceived, ErrorCode
from ...messages.local_auth_list import (
    GetLocalListVersionRequest,
    GetLocalListVersionResponse,
    SendLocalListRequest,
    SendLocalListResponse,
)
from ...stores.records import ConfigurationStore, StoreError
from .diff import (
    LocalListError,
    LocalListPlan,
    apply_send_local_list,
    plan_local_list_update,
)
from .store import LocalListState, LocalListStore

__all__ = ["LocalAuthListService", "LocalListSyncOutcome", "LocalListSyncResult"]

# CallError codes by which a charge point says it has no Local Auth List Management profile.
_UNSUPPORTED_CODES = frozenset({ErrorCode.NOT_SUPPORTED.value, ErrorCode.NOT_IMPLEMENTED.value})


class LocalListSyncOutcome(Enum):
    """How :meth:`LocalAuthListService.sync_local_list` ended."""

    UP_TO_DATE = "up_to_date"
    """The charge point already held the desired list; no SendLocalList was sent."""
    UPDATED = "updated"
    """Every SendLocalList of the plan was accepted: the charge point holds the desired list."""
    NOT_SUPPORTED = "not_supported"
    """The charge point has no local list (version -1, NotSupported, or a CallError)."""
    FAILED = "failed"
    """The charge point refused the update, and the Full sent again after it (§5.15)."""


@attrs.frozen(kw_only=True)
class LocalListSyncResult:
    """What a sync did (§5.10, §5.15).

    ``requests_sent`` are the SendLocalList requests sent, in order, whatever their answer.
    ``final_version`` is the charge point's list version as last known (from its last
    accepted request, else from GetLocalListVersion; None when it answered with a CallError).
    ``reported_version`` is what GetLocalListVersion answered before anything was sent.
    """

    outcome: LocalListSyncOutcome
    requests_sent: tuple[SendLocalListRequest, ...] = ()
    final_version: int | None
    reported_version: int | None
    reason: str


@attrs.frozen
class _Ending:
    """How a sync ends; ``retry``: a refusal that §5.15 answers with a Full."""

    outcome: LocalListSyncOutcome
    reason: str
    retry: bool = False


@attrs.frozen(kw_only=True)
class _Limits:
    """The charge point's SendLocalListMaxLength and LocalAuthListMaxLength, when known."""

    send_local_list_max_length: int | None
    local_auth_list_max_length: int | None

    def plan(
        self,
        *,
        acknowledged: Iterable[AuthorizationData],
        acknowledged_version: int,
        desired: Iterable[AuthorizationData],
        charge_point_version: int | None = None,
    ) -> LocalListPlan:
        return plan_local_list_update(
            acknowledged=acknowledged,
            acknowledged_version=acknowledged_version,
            desired=desired,
            charge_point_version=charge_point_version,
            send_local_list_max_length=self.send_local_list_max_length,
            local_auth_list_max_length=self.local_auth_list_max_length,
        )

    def full_plan(
        self, desired: tuple[AuthorizationData, ...], version: int, reported: int
    ) -> LocalListPlan:
        """A Full of ``desired`` whatever the charge point is thought to hold (§5.15)."""
        # Without acknowledged entries the planner sends the whole list as a Full, unless the
        # charge point reports 0 (an empty list, §5.10) and the desired list is empty too.
        plan = self.plan(
            acknowledged=(),
            acknowledged_version=version,
            desired=desired,
            charge_point_version=reported,
        )
        if plan.requests or reported == 0:
            return plan
        # It reports the version we hold, but after a refusal its list is unknown: clear it.
        clear = SendLocalListRequest(
            list_version=max(version, reported) + 1,
            update_type=UpdateType.FULL,
            local_authorization_list=(),
        )
        return LocalListPlan(
            requests=(clear,), final_version=clear.list_version, final_list=(), kind=UpdateType.FULL
        )


@attrs.define(kw_only=True)
class _Progress:
    """One sync's running knowledge of the charge point's list, fed by accepted requests."""

    version: int
    index: dict[str, AuthorizationData]
    charge_point_version: int | None = None
    reported_version: int | None = None
    sent: list[SendLocalListRequest] = attrs.field(factory=list)
    accepted: int = 0
    notes: list[str] = attrs.field(factory=list)

    def accept(self, request: SendLocalListRequest) -> LocalListState:
        """The acknowledged state once ``request`` is accepted (as apply_send_local_list)."""
        # Kept incrementally rather than re-indexing the whole list after each chunk.
        if request.update_type is UpdateType.FULL:
            self.index.clear()
        for entry in request.local_authorization_list or ():
            key = entry.id_tag.casefold()
            if entry.id_tag_info is not None:
                self.index[key] = entry
            else:
                self.index.pop(key, None)
        self.version = self.charge_point_version = request.list_version
        self.accepted += 1
        return LocalListState(version=self.version, entries=tuple(self.index.values()))

    def result(self, end: _Ending) -> LocalListSyncResult:
        return LocalListSyncResult(
            outcome=end.outcome,
            requests_sent=tuple(self.sent),
            final_version=self.charge_point_version,
            reported_version=self.reported_version,
            reason="; ".join([*self.notes, end.reason]),
        )


def _describe(request: SendLocalListRequest) -> str:
    entries = len(request.local_authorization_list or ())
    return f"{request.update_type.value} to version {request.list_version} ({entries} entries)"


class LocalAuthListService:
    """Local Auth List Management (``central_system.local_auth_list``): the list version,
    SendLocalList, and sync_local_list, which keeps a charge point's list in step."""

    def __init__(
        self,
        engine: Engine,
        *,
        lists: LocalListStore | None,
        configuration: ConfigurationStore,
    ) -> None:
        self._engine = engine
        self._lists = lists
        self._configuration = configuration
        self._local_list_locks: dict[str, anyio.Lock] = {}

    def _list_store(self) -> LocalListStore:
        if self._lists is None:
            raise StoreError("this central system was built without a local_lists store")
        return self._lists

    def _local_list_lock(self, charge_point_id: str) -> anyio.Lock:
        # Two updates of one charge point's list must not interleave: their versions would
        # clash and the store would record a list the charge point does not hold.
        lock = self._local_list_locks.get(charge_point_id)
        if lock is None:
            lock = self._local_list_locks[charge_point_id] = anyio.Lock()
        return lock

    async def _configured_int(self, charge_point_id: str, key: str) -> int | None:
        entry = (await self._configuration.get(charge_point_id)).get(key)
        if entry is None or entry.value is None:
            return None
        try:
            return int(entry.value)
        except ValueError:
            return None

    # -- GetLocalListVersion and SendLocalList -------------------------------------------------

    async def get_local_list_version(self, charge_point_id: str) -> GetLocalListVersionResponse:
        """§5.10: the version of the charge point's list (0: empty, -1: no local list)."""
        return await self._engine.call(charge_point_id, GetLocalListVersionRequest())

    async def send_local_list(
        self,
        charge_point_id: str,
        *,
        version: int,
        update_type: UpdateType,
        entries: Iterable[AuthorizationData],
    ) -> SendLocalListResponse:
        """§5.15: replace (Full) or update (Differential) the charge point's local list.

        Checked before sending (:class:`LocalListError`, nothing sent): ``version`` is 1 or
        more (§5.10 reserves 0 for an empty list and -1 for no local list); no id tag twice,
        case-insensitively (§3.5); every Full entry has ``id_tag_info``; a Differential's
        version is above the acknowledged one (§7.47 VersionMismatch); at most
        SendLocalListMaxLength entries, and a resulting list of at most LocalAuthListMaxLength,
        when the configuration store knows them. On Accepted the new list and version are
        stored (a Differential applied to the acknowledged list; with no acknowledged list the
        result is unknown and nothing is stored); on any other answer nothing is stored.
        """
        store = self._list_store()
        if version < 1:
            raise LocalListError(
                f"list version {version}: a SendLocalList version is 1 or more (§5.10 reserves "
                "0 for an empty list and -1 for a charge point without a local list)"
            )
        request = build_request(
            SendLocalListRequest,
            list_version=version,
            update_type=update_type,
            local_authorization_list=tuple(entries),
        )
        async with self._local_list_lock(charge_point_id):
            acknowledged = await store.get(charge_point_id)
            if (
                acknowledged is not None
                and update_type is UpdateType.DIFFERENTIAL
                and version <= acknowledged.version
            ):
                raise LocalListError(
                    f"a Differential to version {version} does not follow the acknowledged "
                    f"version {acknowledged.version} (the charge point answers VersionMismatch)"
                )
            base = acknowledged or LocalListState(version=0)
            new_entries, new_version = apply_send_local_list(base.entries, base.version, request)
            await self._check_send_limits(charge_point_id, request, len(new_entries))
            response = await self._engine.call(charge_point_id, request)
            if response.status is UpdateStatus.ACCEPTED and (
                acknowledged is not None or update_type is UpdateType.FULL
            ):
                await store.save(
                    charge_point_id, LocalListState(version=new_version, entries=new_entries)
                )
            return response

    async def _check_send_limits(
        self, charge_point_id: str, request: SendLocalListRequest, resulting: int
    ) -> None:
        sent = len(request.local_authorization_list or ())
        per_request = await self._configured_int(charge_point_id, "SendLocalListMaxLength")
        if per_request is not None and sent > per_request:
            raise LocalListError(
                f"{sent} entries in one SendLocalList; {charge_point_id!r} takes at most "
                f"{per_request} (SendLocalListMaxLength)"
            )
        # Without an acknowledged list a Differential's result counts only its own entries:
        # a lower bound, so the check never refuses a request the charge point could take.
        total = await self._configured_int(charge_point_id, "LocalAuthListMaxLength")
        if total is not None and resulting > total:
            raise LocalListError(
                f"the list would have {resulting} entries; {charge_point_id!r} holds at most "
                f"{total} (LocalAuthListMaxLength)"
            )

    # -- sync ----------------------------------------------------------------------------------

    async def sync_local_list(
        self, charge_point_id: str, desired: Iterable[AuthorizationData]
    ) -> LocalListSyncResult:
        """§5.10, §5.15: make the charge point hold ``desired``, recording what it accepts.

        Asks GetLocalListVersion; sends nothing when the charge point holds ``desired`` at the
        acknowledged version, a Differential when that is shorter, otherwise a Full, chunked to
        SendLocalListMaxLength (``docs/local-auth-list.md``). Each accepted request is stored
        at once. After Failed or VersionMismatch it asks the version again and sends a Full,
        once. Version -1, NotSupported, or a NotSupported/NotImplemented CallError end it as
        NOT_SUPPORTED, without a retry.

        Raises :class:`LocalListError` before anything is sent when ``desired`` has a
        duplicate id tag, an entry without ``id_tag_info``, or more entries than
        LocalAuthListMaxLength; :class:`StoreError` without a local list store. Other failures
        of :meth:`call` (timeout, connection lost, other CallErrors) propagate; what was
        accepted before them is stored.
        """
        store = self._list_store()
        desired = tuple(desired)
        limits = _Limits(
            send_local_list_max_length=await self._configured_int(
                charge_point_id, "SendLocalListMaxLength"
            ),
            local_auth_list_max_length=await self._configured_int(
                charge_point_id, "LocalAuthListMaxLength"
            ),
        )
        async with self._local_list_lock(charge_point_id):
            state = await store.get(charge_point_id) or LocalListState(version=0)
            # Planned before anything is sent, so that a bad desired list sends nothing; when
            # the charge point reports the acknowledged version, this is the plan.
            expected = limits.plan(
                acknowledged=state.entries, acknowledged_version=state.version, desired=desired
            )
            progress = _Progress(
                version=state.version,
                index={entry.id_tag.casefold(): entry for entry in state.entries},
            )
            refusal = await self._ask_version(charge_point_id, progress)
            if refusal is not None:
                return progress.result(refusal)
            reported = progress.charge_point_version
            assert reported is not None
            plan = expected
            if reported != state.version:
                progress.notes.append(
                    f"it reported version {reported}, not the acknowledged {state.version}"
                )
                plan = limits.plan(
                    acknowledged=state.entries,
                    acknowledged_version=state.version,
                    desired=desired,
                    charge_point_version=reported,
                )
            retried = False
            while True:
                if not plan.requests:
                    await _record_unchanged(charge_point_id, store, progress, plan)
                    outcome = (
                        LocalListSyncOutcome.UPDATED
                        if progress.accepted
                        else LocalListSyncOutcome.UP_TO_DATE
                    )
                    reason = f"it holds the desired list at version {plan.final_version}"
                    return progress.result(_Ending(outcome, reason))
                refusal = await self._send_plan(charge_point_id, store, plan, progress)
                if refusal is None:
                    return progress.result(
                        _Ending(
                            LocalListSyncOutcome.UPDATED,
                            f"{len(plan.requests)} request(s) accepted, the first a "
                            f"{_describe(plan.requests[0])}",
                        )
                    )
                if not refusal.retry or retried:
                    return progress.result(refusal)
                # §5.15: after Failed or VersionMismatch, send the whole list as a Full,
                # planned from what the charge point reports now.
                retried = True
                progress.notes.append(f"{refusal.reason}; sending a Full again")
                refusal = await self._ask_version(charge_point_id, progress)
                if refusal is not None:
                    return progress.result(refusal)
                assert progress.charge_point_version is not None
                plan = limits.full_plan(desired, progress.version, progress.charge_point_version)

    async def _ask_version(self, charge_point_id: str, progress: _Progress) -> _Ending | None:
        """Ask GetLocalListVersion into ``progress``; a refusal when there is no list to sync."""
        try:
            version = (await self.get_local_list_version(charge_point_id)).list_version
        except CallErrorReceived as error:
            if error.code in _UNSUPPORTED_CODES:
                return _Ending(
                    LocalListSyncOutcome.NOT_SUPPORTED,
                    f"GetLocalListVersion answered a {error.code} CallError",
                )
            raise
        progress.charge_point_version = version
        if progress.reported_version is None:
            progress.reported_version = version
        if version == -1:
            return _Ending(
                LocalListSyncOutcome.NOT_SUPPORTED,
                "GetLocalListVersion answered -1: the charge point has no local list (§5.10)",
            )
        if version < 0:
            return _Ending(
                LocalListSyncOutcome.FAILED,
                f"GetLocalListVersion answered {version}, which is no list version",
            )
        return None

    async def _send_plan(
        self,
        charge_point_id: str,
        store: LocalListStore,
        plan: LocalListPlan,
        progress: _Progress,
    ) -> _Ending | None:
        """Send the plan's requests in order, storing each accepted one; None when all were."""
        for request in plan.requests:
            progress.sent.append(request)
            try:
                response = await self._engine.call(charge_point_id, request)
            except CallErrorReceived as error:
                if error.code in _UNSUPPORTED_CODES:
                    return _Ending(
                        LocalListSyncOutcome.NOT_SUPPORTED,
                        f"the {_describe(request)} was answered with a {error.code} CallError",
                    )
                raise
            if response.status is UpdateStatus.ACCEPTED:
                await store.save(charge_point_id, progress.accept(request))
                continue
            reason = f"the {_describe(request)} was answered {response.status.value}"
            if response.status is UpdateStatus.NOT_SUPPORTED:
                return _Ending(LocalListSyncOutcome.NOT_SUPPORTED, reason)
            return _Ending(LocalListSyncOutcome.FAILED, reason, retry=True)
        return None


async def _record_unchanged(
    charge_point_id: str, store: LocalListStore, progress: _Progress, plan: LocalListPlan
) -> None:
    # With nothing to send, only a charge point that reports 0 can hold another list than the
    # acknowledged one: it lost its list, and the desired one is empty. Record the empty list,
    # keeping our version so that versions never go down.
    if progress.index and not plan.final_list:
        progress.index.clear()
        await store.save(charge_point_id, LocalListState(version=progress.version))
