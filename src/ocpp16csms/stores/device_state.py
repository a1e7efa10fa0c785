"""Device-state store: file transfers a charge point was asked for, their status, security events.

Four kinds of transfer, each an operation the central system sends and a notification the charge
point answers with: UpdateFirmware and FirmwareStatusNotification (OCPP 1.6 §5.19, §4.5),
SignedUpdateFirmware and SignedFirmwareStatusNotification (security whitepaper §5.21, §5.19),
GetDiagnostics and DiagnosticsStatusNotification (§5.9, §4.4), GetLog and LogStatusNotification
(whitepaper §5.9, §5.13). The store keeps, per charge point, kind and request id, what was asked
(:class:`TransferRequest`) and the newest status reported (:class:`TransferStatus`); and every
SecurityEventNotification (whitepaper §5.15) once (:class:`SecurityEventRecord`).

UpdateFirmware and GetDiagnostics carry no request id: their request and status are kept under
request id None, one per charge point. A status is "newer" by ``received_at`` (the central
system's clock); at an equal instant the later write wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Protocol, runtime_checkable

import attrs

from .._logging import get_logger
from .._trusted import trusted_factory
from ..enums import (
    DiagnosticsStatus,
    FirmwareStatus,
    FirmwareStatusEnumType,
    LogType,
    UploadLogStatus,
)

__all__ = [
    "STATUS_TYPES",
    "DeviceStateStore",
    "MemoryDeviceStateStore",
    "SecurityEventRecord",
    "TransferKind",
    "TransferRequest",
    "TransferStatus",
    "kind_set",
    "remember_request",
]


_log = get_logger("ocpp16csms.device_state")


class TransferKind(StrEnum):
    """Which operation a transfer request or status belongs to."""

    FIRMWARE = "Firmware"
    """UpdateFirmware (§5.19) and FirmwareStatusNotification (§4.5)."""
    SIGNED_FIRMWARE = "SignedFirmware"
    """SignedUpdateFirmware (whitepaper §5.21) and SignedFirmwareStatusNotification (§5.19)."""
    DIAGNOSTICS = "Diagnostics"
    """GetDiagnostics (§5.9) and DiagnosticsStatusNotification (§4.4)."""
    LOG = "Log"
    """GetLog (whitepaper §5.9) and LogStatusNotification (§5.13)."""


STATUS_TYPES: Mapping[TransferKind, type[Enum]] = {
    TransferKind.FIRMWARE: FirmwareStatus,
    TransferKind.SIGNED_FIRMWARE: FirmwareStatusEnumType,
    TransferKind.DIAGNOSTICS: DiagnosticsStatus,
    TransferKind.LOG: UploadLogStatus,
}
"""The enumeration of the status each kind's notification carries."""


def _aware(instance: object, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    zone = value.tzinfo
    if zone is not UTC and (zone is None or value.utcoffset() is None):
        raise ValueError(f"{attribute.name} {value!r} is naive; it must be timezone-aware")


_optional_aware = attrs.validators.optional(_aware)


def kind_set(kinds: TransferKind | Iterable[TransferKind]) -> frozenset[TransferKind]:
    """One kind or several, as a set (a lone kind is a string: never iterate it)."""
    if isinstance(kinds, str):
        return frozenset({TransferKind(kinds)})
    return frozenset(TransferKind(kind) for kind in kinds)


@attrs.frozen(kw_only=True)
class TransferRequest:
    """What the central system asked a charge point to fetch or upload.

    ``location`` is UpdateFirmware's location, SignedUpdateFirmware's firmware.location,
    GetDiagnostics' location or GetLog's log.remoteLocation; ``retrieve_date`` and
    ``install_date`` the firmware's retrieve and install dates; ``start_time`` and ``stop_time``
    GetDiagnostics' time span or GetLog's oldest and latest timestamps; ``file_name`` the name
    the charge point answered with (GetDiagnostics, GetLog). ``requested_at`` is the central
    system's clock when it was sent. Datetimes must be timezone-aware (:class:`ValueError`).
    """

    charge_point_id: str
    kind: TransferKind
    request_id: int | None = None
    location: str
    requested_at: datetime = attrs.field(validator=_aware)
    retrieve_date: datetime | None = attrs.field(default=None, validator=_optional_aware)
    install_date: datetime | None = attrs.field(default=None, validator=_optional_aware)
    retries: int | None = None
    retry_interval: int | None = None
    start_time: datetime | None = attrs.field(default=None, validator=_optional_aware)
    stop_time: datetime | None = attrs.field(default=None, validator=_optional_aware)
    log_type: LogType | None = None
    file_name: str | None = None


@attrs.frozen(kw_only=True)
class TransferStatus:
    """A status notification: ``status`` is a member of ``STATUS_TYPES[kind]`` (or, let through
    by a relaxed validation policy, plain text); ``received_at`` the central system's clock."""

    charge_point_id: str
    kind: TransferKind
    request_id: int | None = None
    status: FirmwareStatus | FirmwareStatusEnumType | DiagnosticsStatus | UploadLogStatus | str
    received_at: datetime = attrs.field(validator=_aware)


@attrs.frozen(kw_only=True)
class SecurityEventRecord:
    """A SecurityEventNotification (whitepaper §5.15): ``type``, ``timestamp`` and ``tech_info``
    as the charge point sent them, ``received_at`` the central system's clock."""

    charge_point_id: str
    type: str
    timestamp: datetime = attrs.field(validator=_aware)
    tech_info: str | None = None
    received_at: datetime = attrs.field(validator=_aware)


@runtime_checkable
class DeviceStateStore(Protocol):
    """Transfer requests, their newest status, and security events, per charge point.

    Every write is idempotent, as charge points resend notifications until answered.
    """

    async def record_request(self, request: TransferRequest) -> None:
        """Keep ``request``, replacing the one with the same charge point, kind and request id."""
        ...

    async def request(
        self, charge_point_id: str, kind: TransferKind, request_id: int | None = None
    ) -> TransferRequest | None:
        """The request with that charge point, kind and request id, or None."""
        ...

    async def requests(
        self, charge_point_id: str, *, kind: TransferKind | None = None
    ) -> Sequence[TransferRequest]:
        """The charge point's requests (of ``kind``, when given), ordered by ``requested_at``,
        then kind, then request id (None first)."""
        ...

    async def record_status(self, status: TransferStatus) -> bool:
        """Keep ``status`` unless one received later is stored for the same charge point, kind
        and request id (an equal instant replaces); return whether it was kept."""
        ...

    async def status(
        self, charge_point_id: str, kind: TransferKind, request_id: int | None = None
    ) -> TransferStatus | None:
        """The status kept for that charge point, kind and request id, or None."""
        ...

    async def latest_status(
        self, charge_point_id: str, kinds: TransferKind | Iterable[TransferKind]
    ) -> TransferStatus | None:
        """The newest status of the charge point of any of ``kinds``, whatever its request id:
        latest ``received_at``, and of equal ones the last written. None if there is none."""
        ...

    async def add_security_event(self, event: SecurityEventRecord) -> bool:
        """Keep ``event`` unless one equal in charge point, type, timestamp (as an instant) and
        tech info is kept (a resent notification); return whether it was new."""
        ...

    async def security_events(
        self,
        charge_point_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> Sequence[SecurityEventRecord]:
        """The charge point's security events whose ``timestamp`` is at or after ``since`` and
        before ``until``, ordered by timestamp, then arrival; the first ``limit`` of them when
        given (a negative ``limit`` raises :class:`ValueError`)."""
        ...


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be at least 0, got {limit}")


def _request_order(request: TransferRequest) -> tuple[datetime, str, bool, int]:
    rid = request.request_id
    return request.requested_at, request.kind.value, rid is not None, rid or 0


_Key = tuple[str, TransferKind, int | None]

# Rebuilds a kept event: its values passed the record's checks when it was added.
_security_event = trusted_factory(SecurityEventRecord)


class MemoryDeviceStateStore:
    """:class:`DeviceStateStore` in memory."""

    def __init__(self) -> None:
        self._requests: dict[_Key, TransferRequest] = {}
        self._statuses: dict[_Key, tuple[int, TransferStatus]] = {}
        self._writes = 0
        # Per charge point, its security events as (type, timestamp, tech_info, received_at):
        # tuples of atomic values, which the garbage collector stops tracking (a store of
        # millions costs no collection time); records are made again when read.
        self._events: dict[str, list[tuple[str, datetime, str | None, datetime]]] = {}
        self._event_keys: set[tuple[str, str, datetime, str | None]] = set()

    async def record_request(self, request: TransferRequest) -> None:
        key = (request.charge_point_id, request.kind, request.request_id)
        self._requests[key] = request

    async def request(
        self, charge_point_id: str, kind: TransferKind, request_id: int | None = None
    ) -> TransferRequest | None:
        return self._requests.get((charge_point_id, kind, request_id))

    async def requests(
        self, charge_point_id: str, *, kind: TransferKind | None = None
    ) -> Sequence[TransferRequest]:
        return sorted(
            (
                request
                for (cp, k, _), request in self._requests.items()
                if cp == charge_point_id and (kind is None or k is kind)
            ),
            key=_request_order,
        )

    async def record_status(self, status: TransferStatus) -> bool:
        key = (status.charge_point_id, status.kind, status.request_id)
        current = self._statuses.get(key)
        if current is not None and current[1].received_at > status.received_at:
            return False
        self._writes += 1
        self._statuses[key] = (self._writes, status)
        return True

    async def status(
        self, charge_point_id: str, kind: TransferKind, request_id: int | None = None
    ) -> TransferStatus | None:
        kept = self._statuses.get((charge_point_id, kind, request_id))
        return None if kept is None else kept[1]

    async def latest_status(
        self, charge_point_id: str, kinds: TransferKind | Iterable[TransferKind]
    ) -> TransferStatus | None:
        wanted = kind_set(kinds)
        candidates = [
            (status.received_at, order, status)
            for (cp, kind, _), (order, status) in self._statuses.items()
            if cp == charge_point_id and kind in wanted
        ]
        if not candidates:
            return None
        return max(candidates, key=lambda c: (c[0], c[1]))[2]

    async def add_security_event(self, event: SecurityEventRecord) -> bool:
        key = (event.charge_point_id, event.type, event.timestamp, event.tech_info)
        if key in self._event_keys:
            return False
        self._event_keys.add(key)
        row = (event.type, event.timestamp, event.tech_info, event.received_at)
        rows = self._events.get(event.charge_point_id)
        if rows is None:
            self._events[event.charge_point_id] = [row]
        else:
            rows.append(row)
        return True

    async def security_events(
        self,
        charge_point_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> Sequence[SecurityEventRecord]:
        _check_limit(limit)
        found = sorted(
            (
                row
                for row in self._events.get(charge_point_id, ())
                if (since is None or row[1] >= since) and (until is None or row[1] < until)
            ),
            key=lambda row: row[1],  # stable: arrival order among equal instants
        )
        return [
            _security_event(
                charge_point_id=charge_point_id,
                type=type_,
                timestamp=timestamp,
                tech_info=tech_info,
                received_at=received_at,
            )
            for type_, timestamp, tech_info, received_at in (
                found if limit is None else found[:limit]
            )
        ]


async def remember_request(store: DeviceStateStore | None, request: TransferRequest) -> None:
    """Keep a request the charge point has already taken; without a store, nothing.

    A store failure is logged, not raised: the operation succeeded, and an error would make
    its caller send it again.
    """
    if store is None:
        return
    try:
        await store.record_request(request)
    except Exception:
        _log.exception("[%s] could not store the %s request", request.charge_point_id, request.kind)
