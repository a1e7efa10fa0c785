"""The Core store protocols a host implements, shared by every feature (charge points, id
tags, transactions, configuration); the in-memory implementations are in :mod:`.memory`.

Small ``typing.Protocol`` classes with async methods. Every method may raise
:class:`StoreError` (or any exception) when the backing store fails; the central system then
answers the charge point with ``InternalError`` so the charge point retries, and nothing is
acknowledged that was not kept. Methods document the other exceptions they raise.

Id tags are CiString20: they compare case-insensitively, so stores look them up by
``id_tag.casefold()`` while keeping the spelling they were given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

import attrs

from ..datatypes import KeyValue, MeterValue
from ..enums import (
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    Reason,
    RegistrationStatus,
)
from ..errors import CsmsError

__all__ = [
    "BootInfo",
    "ChargePointRecord",
    "ChargePointStore",
    "ConfigurationStore",
    "ConnectorStatus",
    "IdTagRecord",
    "IdTagStore",
    "StoreError",
    "StoredMeterValue",
    "TransactionRecord",
    "TransactionStart",
    "TransactionStop",
    "TransactionStore",
    "UnconfirmedEnd",
    "UnconfirmedEndCause",
    "UnknownChargePoint",
    "UnmatchedStop",
    "UnmatchedStopCause",
]


class StoreError(CsmsError):
    """The store could not do what was asked."""


class UnknownChargePoint(StoreError, KeyError):
    """The charge point is not registered in the store."""


@attrs.frozen(kw_only=True)
class BootInfo:
    """What a charge point said about itself in its last BootNotification (§4.2)."""

    charge_point_vendor: str
    charge_point_model: str
    charge_point_serial_number: str | None = None
    charge_box_serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None


@attrs.frozen(kw_only=True)
class ChargePointRecord:
    """A registered charge point.

    ``registration_status`` is the answer to its last BootNotification (None before any);
    ``security_profile`` is the OCPP 1.6 security whitepaper profile (0 to 3) it connects with;
    ``password_hash`` is a salted slow hash (never the password itself, see
    :mod:`ocpp16csms.security`).
    """

    charge_point_id: str
    registration_status: RegistrationStatus | None = None
    security_profile: int = attrs.field(default=0, validator=attrs.validators.in_(range(4)))
    password_hash: str | None = None
    boot: BootInfo | None = None
    last_boot_at: datetime | None = None
    last_seen: datetime | None = None


@attrs.frozen(kw_only=True)
class ConnectorStatus:
    """The last StatusNotification of a connector (0 = the charge point itself) (§4.9)."""

    connector_id: int
    status: ChargePointStatus
    error_code: ChargePointErrorCode
    timestamp: datetime
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None


@runtime_checkable
class ChargePointStore(Protocol):
    """Registered charge points, their boot information, last-seen time and connector status."""

    async def get(self, charge_point_id: str) -> ChargePointRecord | None:
        """The charge point, or None when it is not registered."""
        ...

    async def save(self, record: ChargePointRecord) -> None:
        """Register a charge point, or replace its record."""
        ...

    async def record_boot(
        self, charge_point_id: str, boot: BootInfo, status: RegistrationStatus, at: datetime
    ) -> None:
        """Store a BootNotification and its answer; raise :class:`UnknownChargePoint`."""
        ...

    async def touch(self, charge_point_id: str, at: datetime) -> None:
        """Set last-seen to ``at`` unless it is already later; unknown ids are ignored."""
        ...

    async def set_connector_status(self, charge_point_id: str, status: ConnectorStatus) -> bool:
        """Keep ``status`` unless a newer one is stored; return whether it was kept."""
        ...

    async def connector_statuses(self, charge_point_id: str) -> Mapping[int, ConnectorStatus]:
        """The newest status of every connector that reported one."""
        ...


@attrs.frozen(kw_only=True)
class IdTagRecord:
    """An identifier the central system knows (§3.4, IdTagInfo §6.7)."""

    id_tag: str
    status: AuthorizationStatus = AuthorizationStatus.ACCEPTED
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None


@runtime_checkable
class IdTagStore(Protocol):
    """Known identifiers, looked up case-insensitively."""

    async def get(self, id_tag: str) -> IdTagRecord | None:
        """The identifier, or None when it is unknown."""
        ...

    async def save(self, record: IdTagRecord) -> None:
        """Add or replace an identifier."""
        ...

    async def delete(self, id_tag: str) -> bool:
        """Forget an identifier; return whether it was known."""
        ...


@attrs.frozen(kw_only=True)
class TransactionStart:
    """A StartTransaction as the charge point sent it (§4.8)."""

    charge_point_id: str
    connector_id: int
    id_tag: str
    meter_start: int
    timestamp: datetime
    reservation_id: int | None = None
    id_tag_status: AuthorizationStatus = AuthorizationStatus.ACCEPTED


@attrs.frozen(kw_only=True)
class TransactionStop:
    """A StopTransaction as the charge point sent it (§4.10)."""

    meter_stop: int
    timestamp: datetime
    reason: Reason | None = None
    id_tag: str | None = None


class UnconfirmedEndCause(StrEnum):
    """What made the central system believe a transaction ended without its StopTransaction."""

    BOOT = "Boot"
    """The charge point booted again (a hard reset may lose the StopTransaction, errata 3.36)."""
    CONNECTOR_AVAILABLE = "ConnectorAvailable"
    """The transaction's connector reported Available: nothing is charging there any more."""


@attrs.frozen(kw_only=True)
class UnconfirmedEnd:
    """How a transaction whose StopTransaction never came is taken to have ended.

    ``meter_stop`` (Wh) and ``timestamp`` are the last register reading seen for the
    transaction (meterStart and its start time when there was none); ``detected_at`` is the
    central system's clock when it marked the transaction.
    """

    meter_stop: int
    timestamp: datetime
    cause: UnconfirmedEndCause
    detected_at: datetime


@attrs.frozen(kw_only=True)
class TransactionRecord:
    """A transaction: its start, its stop once known, and its unconfirmed end if it was
    marked ended without a StopTransaction (kept when a late StopTransaction completes it)."""

    transaction_id: int
    start: TransactionStart
    stop: TransactionStop | None = None
    unconfirmed_end: UnconfirmedEnd | None = None

    @property
    def active(self) -> bool:
        """True until the transaction is stopped or marked ended-unconfirmed."""
        return self.stop is None and self.unconfirmed_end is None

    @property
    def ended_unconfirmed(self) -> bool:
        """Marked ended without a StopTransaction, and none has arrived since."""
        return self.stop is None and self.unconfirmed_end is not None


def _meter_values(values: Iterable[MeterValue]) -> tuple[MeterValue, ...]:
    return tuple(values)


class UnmatchedStopCause(StrEnum):
    """Why a StopTransaction closed no transaction (errata 3.18)."""

    NO_TRANSACTION_ID = "NoTransactionId"
    """transactionId -1: the charge point never received an id for the transaction."""
    UNKNOWN_TRANSACTION = "UnknownTransaction"
    """No transaction has that id."""
    ALREADY_STOPPED = "AlreadyStopped"
    """The transaction was stopped before, with other data (an exact retry is no such stop)."""
    OTHER_CHARGE_POINT = "OtherChargePoint"
    """The id belongs to a transaction of another charge point."""


@attrs.frozen(kw_only=True)
class UnmatchedStop:
    """A StopTransaction that closed no transaction, kept whole for the host to reconcile.

    The charge point was answered as if the transaction existed (errata 3.18); ``stop`` holds
    its meterStop, timestamp, reason and idTag, ``transaction_data`` its meter values, and
    ``received_at`` the central system's clock when it arrived.
    """

    charge_point_id: str
    transaction_id: int
    stop: TransactionStop
    cause: UnmatchedStopCause
    received_at: datetime
    transaction_data: tuple[MeterValue, ...] = attrs.field(default=(), converter=_meter_values)


@attrs.frozen(kw_only=True)
class StoredMeterValue:
    """A meter value as stored, with where it came from."""

    charge_point_id: str
    connector_id: int
    transaction_id: int | None
    meter_value: MeterValue


@runtime_checkable
class TransactionStore(Protocol):
    """Transactions and meter values; every write is idempotent, as charge points retry."""

    async def start(self, start: TransactionStart) -> tuple[TransactionRecord, bool]:
        """Create a transaction with a new unique id (1 to 2**31-1) and return it with True.

        A start equal to a stored one in charge point, connector, id tag, meter start and
        timestamp is a retry: the stored transaction is returned with False, nothing created.
        """
        ...

    async def get(self, transaction_id: int) -> TransactionRecord | None:
        """The transaction, or None when the id is unknown."""
        ...

    async def stop(self, transaction_id: int, stop: TransactionStop) -> TransactionRecord | None:
        """Close the transaction, also one marked ended-unconfirmed (keeping that mark); a
        second stop changes nothing. None for an unknown id."""
        ...

    async def active(
        self, *, charge_point_id: str | None = None, id_tag: str | None = None
    ) -> Sequence[TransactionRecord]:
        """Transactions neither stopped nor ended-unconfirmed, filtered by charge point and
        (case-insensitive) tag, in id order."""
        ...

    async def end_unconfirmed(
        self, transaction_id: int, end: UnconfirmedEnd
    ) -> TransactionRecord | None:
        """Mark an active transaction ended-unconfirmed with ``end``; it stays stored, and a
        later :meth:`stop` completes it. A stopped or already marked transaction is returned
        unchanged; None for an unknown id."""
        ...

    async def unconfirmed(
        self, *, charge_point_id: str | None = None
    ) -> Sequence[TransactionRecord]:
        """Transactions marked ended-unconfirmed and not stopped since, in id order."""
        ...

    async def add_unmatched_stop(self, stop: UnmatchedStop) -> bool:
        """Keep a StopTransaction that closed no transaction; return whether it was new.

        One equal to a kept one in charge point, transaction id, meterStop and timestamp (the
        instant) is a retry: nothing is added.
        """
        ...

    async def unmatched_stops(self, charge_point_id: str | None = None) -> Sequence[UnmatchedStop]:
        """The unmatched stops kept (of one charge point when given), in the order kept."""
        ...

    async def add_meter_values(
        self,
        charge_point_id: str,
        connector_id: int,
        transaction_id: int | None,
        meter_values: Iterable[MeterValue],
    ) -> int:
        """Store meter values not already stored for the same place; return how many were new."""
        ...

    async def meter_values(
        self, charge_point_id: str, *, transaction_id: int | None = None
    ) -> Sequence[StoredMeterValue]:
        """Stored meter values of a charge point (of one transaction when given), in order."""
        ...


@runtime_checkable
class ConfigurationStore(Protocol):
    """The configuration keys each charge point reported (GetConfiguration, §5.8)."""

    async def get(self, charge_point_id: str) -> Mapping[str, KeyValue]:
        """Reported keys by name (empty when nothing is known)."""
        ...

    async def put(self, charge_point_id: str, entries: Iterable[KeyValue]) -> None:
        """Store reported keys, replacing those with the same name."""
        ...

    async def set_value(self, charge_point_id: str, key: str, value: str) -> None:
        """Record a value the charge point accepted (ChangeConfiguration)."""
        ...
