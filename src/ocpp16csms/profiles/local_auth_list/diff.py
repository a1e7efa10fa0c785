"""Local authorization list diffing and update planning (OCPP 1.6 §3.5, §5.10, §5.15).

Pure functions: given what the charge point acknowledged and what the host wants it to hold,
work out the SendLocalList requests (§6.43) that take it there. No I/O, no clock, no store;
the central system's operations use this and do the sending. The rules are written out in
``docs/local-auth-list.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

from ...datatypes import AuthorizationData
from ...enums import UpdateType
from ...errors import InvalidRequest
from ...messages.local_auth_list import SendLocalListRequest

__all__ = [
    "LocalListError",
    "LocalListPlan",
    "apply_send_local_list",
    "diff_local_list",
    "plan_local_list_update",
]


class LocalListError(InvalidRequest):
    """A local authorization list, or an update of one, breaks a rule of §3.5 / §5.15."""


@attrs.frozen(kw_only=True)
class LocalListPlan:
    """The SendLocalList requests (§6.43) that bring a charge point's list to the desired one.

    ``kind`` is the update type of the first request, or ``None`` when the charge point already
    holds the desired list at a known version and nothing needs sending. ``final_list`` is what
    the charge point holds once every request has been accepted, and ``final_version`` the
    version to record with it: the last request's, or with nothing to send the higher of the
    acknowledged and reported versions. It is never below the acknowledged version, even when
    the charge point reports 0 for an empty list (§5.10): the next list must not reuse a version.
    """

    requests: tuple[SendLocalListRequest, ...]
    final_version: int
    final_list: tuple[AuthorizationData, ...]
    kind: UpdateType | None


def _index(entries: Iterable[AuthorizationData], what: str) -> dict[str, AuthorizationData]:
    """Key a list's entries by casefolded id tag, refusing duplicates and entries without info."""
    materialised = tuple(entries)
    # The comprehension is the fast path for 10^5 entries; the loop below only runs to name
    # the offending entry.
    index = {entry.id_tag.casefold(): entry for entry in materialised}
    if len(index) != len(materialised):
        seen: dict[str, AuthorizationData] = {}
        for entry in materialised:
            key = entry.id_tag.casefold()
            if key in seen:
                raise LocalListError(
                    f"duplicate id tag in the {what} list: {entry.id_tag!r} "
                    f"(id tags compare case-insensitively; {seen[key].id_tag!r} is already there)"
                )
            seen[key] = entry
    for entry in index.values():
        if entry.id_tag_info is None:
            raise LocalListError(
                f"entry {entry.id_tag!r} of the {what} list has no id_tag_info; every entry of "
                "a list needs one (an entry without one only means 'remove' in a Differential)"
            )
    return index


def _diff(
    acknowledged: Mapping[str, AuthorizationData], desired: Mapping[str, AuthorizationData]
) -> tuple[AuthorizationData, ...]:
    changed: list[str] = []
    added: list[str] = []
    for key, entry in desired.items():
        old = acknowledged.get(key)
        if old is None:
            added.append(key)
        # Identity first: a host that keeps its objects skips the field-by-field comparison.
        elif old.id_tag_info is entry.id_tag_info or old.id_tag_info == entry.id_tag_info:
            continue
        else:
            changed.append(key)
    removed = sorted(acknowledged.keys() - desired.keys())
    changed.sort()
    added.sort()
    # Removals go first so that each prefix of the diff, sent as its own chunk, never makes
    # the charge point's list longer than the larger of the two lists (LocalAuthListMaxLength).
    return (
        *(AuthorizationData(id_tag=acknowledged[key].id_tag) for key in removed),
        *(desired[key] for key in changed),
        *(desired[key] for key in added),
    )


def diff_local_list(
    acknowledged: Iterable[AuthorizationData], desired: Iterable[AuthorizationData]
) -> tuple[AuthorizationData, ...]:
    """The entries of a Differential update (§5.15) that turns ``acknowledged`` into ``desired``.

    Removed id tags come without ``id_tag_info`` (spelt as in ``acknowledged``); new ones, and
    ones whose ``IdTagInfo`` differs, come as in ``desired``. Id tags compare case-insensitively
    (CiString20, §3.5), so a tag whose case alone changed is not a change. The order is fixed:
    removals, then changes, then additions, each sorted by casefolded id tag.

    Raises :class:`LocalListError` for a duplicate id tag or an entry without ``id_tag_info``
    in either list.
    """
    return _diff(_index(acknowledged, "acknowledged"), _index(desired, "desired"))


def _apply(
    index: dict[str, AuthorizationData],
    update_type: UpdateType,
    entries: Sequence[AuthorizationData],
) -> None:
    if update_type is UpdateType.FULL:
        index.clear()
    for entry in entries:
        key = entry.id_tag.casefold()
        if entry.id_tag_info is not None:
            index[key] = entry
        else:
            index.pop(key, None)


def apply_send_local_list(
    current: Mapping[str, AuthorizationData] | Iterable[AuthorizationData],
    version: int,
    request: SendLocalListRequest,
) -> tuple[tuple[AuthorizationData, ...], int]:
    """A charge point's handling of one accepted SendLocalList (§5.15): the new list and version.

    A Full replaces the list; a Differential adds or updates the entries that carry an
    ``IdTagInfo`` and removes those that do not. Id tags match case-insensitively; an updated
    entry keeps its place and new ones go at the end. ``current`` is the list, or a mapping
    whose values are its entries. The model is strict where a charge point would answer
    VersionMismatch or Failed: it raises :class:`LocalListError` for a Differential whose
    version is not above ``version``, a Full entry without ``IdTagInfo``, or a duplicate id tag.
    """
    entries = tuple(request.local_authorization_list or ())
    index = _index(current.values() if isinstance(current, Mapping) else current, "current")
    keys = {entry.id_tag.casefold() for entry in entries}
    if len(keys) != len(entries):
        raise LocalListError("duplicate id tag in the request's local_authorization_list")
    if request.update_type is UpdateType.FULL:
        _index(entries, "Full update's")
    elif request.list_version <= version:
        raise LocalListError(
            f"Differential update to version {request.list_version} does not follow version "
            f"{version} (a charge point answers VersionMismatch)"
        )
    _apply(index, request.update_type, entries)
    return tuple(index.values()), request.list_version


def _check_limit(name: str, value: int | None, minimum: int) -> None:
    if value is not None and value < minimum:
        raise LocalListError(f"{name} is {value}; it must be at least {minimum}")


def _check_version(name: str, value: int) -> None:
    # -1 is what GetLocalListVersion answers when the charge point has no local list (§6.28).
    if value == -1:
        raise LocalListError(f"{name} is -1: the charge point does not support a local list")
    if value < 0:
        raise LocalListError(f"{name} is {value}; a list version is 0 or more")


def _chunks(
    entries: Sequence[AuthorizationData], size: int | None
) -> list[tuple[AuthorizationData, ...]]:
    if size is None or len(entries) <= size:
        return [tuple(entries)]
    return [tuple(entries[start : start + size]) for start in range(0, len(entries), size)]


def plan_local_list_update(
    *,
    acknowledged: Iterable[AuthorizationData],
    acknowledged_version: int,
    desired: Iterable[AuthorizationData],
    send_local_list_max_length: int | None = None,
    local_auth_list_max_length: int | None = None,
    charge_point_version: int | None = None,
) -> LocalListPlan:
    """Plan the SendLocalList requests (§5.15, §6.43) that give the charge point ``desired``.

    ``acknowledged`` is the list the charge point last accepted, at ``acknowledged_version``;
    ``charge_point_version`` is what GetLocalListVersion (§5.10) answered, if it was asked.
    When the two versions agree and are above 0, the charge point holds ``acknowledged``: the
    plan is nothing, or a Differential when the diff is shorter than ``desired``, else a Full.
    A reported version of 0 means an empty list (§5.10); with an empty ``desired`` the plan is
    nothing, at the acknowledged version. Otherwise the charge point's list is unknown and the
    plan is a Full. Requests carry at most ``send_local_list_max_length``
    entries (a Full with the first chunk, then Differentials) and versions above both known
    versions, one more per request. An empty Full sends an empty ``local_authorization_list``.

    Raises :class:`LocalListError` for a duplicate id tag, an entry without ``id_tag_info``,
    ``desired`` longer than ``local_auth_list_max_length``, a negative version (-1: no local
    list support), or a ``send_local_list_max_length`` below 1.
    """
    _check_version("acknowledged_version", acknowledged_version)
    if charge_point_version is not None:
        _check_version("charge_point_version", charge_point_version)
    _check_limit("send_local_list_max_length", send_local_list_max_length, 1)
    _check_limit("local_auth_list_max_length", local_auth_list_max_length, 0)
    acknowledged_index = _index(acknowledged, "acknowledged")
    desired_index = _index(desired, "desired")
    if local_auth_list_max_length is not None and len(desired_index) > local_auth_list_max_length:
        raise LocalListError(
            f"the desired list has {len(desired_index)} entries; the charge point holds at most "
            f"{local_auth_list_max_length} (LocalAuthListMaxLength)"
        )

    reported = acknowledged_version if charge_point_version is None else charge_point_version
    known: dict[str, AuthorizationData] | None
    if reported == 0:
        known = {}
    elif reported == acknowledged_version:
        known = dict(acknowledged_index)
    else:
        known = None

    if known is not None:
        diff = _diff(known, desired_index)
        if not diff:
            # Versions recorded never go down: a charge point that reports 0 after our empty
            # Full still holds the list of that version, whatever §5.10 makes it report.
            return LocalListPlan(
                requests=(),
                final_version=max(acknowledged_version, reported),
                final_list=tuple(known.values()),
                kind=None,
            )
        if len(diff) < len(desired_index):
            return _planned(
                known,
                max(acknowledged_version, reported),
                UpdateType.DIFFERENTIAL,
                _chunks(diff, send_local_list_max_length),
            )
    return _planned(
        {},
        max(acknowledged_version, reported),
        UpdateType.FULL,
        _chunks(tuple(desired_index.values()), send_local_list_max_length),
    )


def _planned(
    start: dict[str, AuthorizationData],
    version: int,
    kind: UpdateType,
    chunks: list[tuple[AuthorizationData, ...]],
) -> LocalListPlan:
    # Only the first request of a Full plan replaces the list; later chunks add to it.
    requests = tuple(
        SendLocalListRequest(
            list_version=version + number,
            update_type=kind if number == 1 else UpdateType.DIFFERENTIAL,
            local_authorization_list=chunk,
        )
        for number, chunk in enumerate(chunks, start=1)
    )
    for request in requests:
        _apply(start, request.update_type, request.local_authorization_list or ())
    return LocalListPlan(
        requests=requests,
        final_version=requests[-1].list_version,
        final_list=tuple(start.values()),
        kind=kind,
    )
