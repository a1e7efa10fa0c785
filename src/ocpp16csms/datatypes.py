"""The shared datatypes of OCPP 1.6 (§6) and of the security whitepaper (edition 2, §4).

Frozen, slotted, keyword-only attrs classes. Attributes are snake_case; the converter maps
them to the wire's camelCase. Optional fields default to ``None`` and are omitted on the wire.
"""

# Annotations are evaluated (no ``from __future__ import annotations``): the constraints in
# them (``CiString20``, ``ConnectorId``, …) become validators while each class is built.
from datetime import datetime
from typing import Annotated

from .constraints import (
    CiString20,
    CiString50,
    CiString500,
    MaxLength,
    MinItems,
    NonNegativeInt,
    TenthDecimal,
    message_class,
)
from .enums import (
    AuthorizationStatus,
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    HashAlgorithm,
    Location,
    Measurand,
    Phase,
    ReadingContext,
    RecurrencyKindType,
    UnitOfMeasure,
    ValueFormat,
)

__all__ = [
    "AuthorizationData",
    "CertificateHashData",
    "ChargingProfile",
    "ChargingSchedule",
    "ChargingSchedulePeriod",
    "Firmware",
    "IdTagInfo",
    "KeyValue",
    "LogParameters",
    "MeterValue",
    "SampledValue",
]


@message_class
class IdTagInfo:
    """Status of an identifier, with its optional expiry and parent (§6.7)."""

    status: AuthorizationStatus
    expiry_date: datetime | None = None
    parent_id_tag: CiString20 | None = None


@message_class
class AuthorizationData:
    """One entry of a local authorization list (§6.1); no ``id_tag_info`` means "remove"."""

    id_tag: CiString20
    id_tag_info: IdTagInfo | None = None


@message_class
class SampledValue:
    """One measured value (§6.21); ``value`` is a string as on the wire."""

    value: str
    context: ReadingContext | None = None
    format: ValueFormat | None = None
    measurand: Measurand | None = None
    phase: Phase | None = None
    location: Location | None = None
    unit: UnitOfMeasure | None = None


@message_class
class MeterValue:
    """Sampled values taken at one point in time (§6.17)."""

    timestamp: datetime
    sampled_value: Annotated[tuple[SampledValue, ...], MinItems(1)]


@message_class
class ChargingSchedulePeriod:
    """A limit in force from ``start_period`` seconds after the schedule's start (§6.10)."""

    start_period: int
    limit: TenthDecimal
    number_phases: int | None = None


@message_class
class ChargingSchedule:
    """A list of periods with a unit and an optional start and duration (§6.9)."""

    charging_rate_unit: ChargingRateUnitType
    charging_schedule_period: Annotated[tuple[ChargingSchedulePeriod, ...], MinItems(1)]
    duration: int | None = None
    start_schedule: datetime | None = None
    min_charging_rate: TenthDecimal | None = None


@message_class
class ChargingProfile:
    """A charging profile (§6.8): a schedule with a purpose, a kind and a stack level."""

    charging_profile_id: int
    stack_level: NonNegativeInt
    charging_profile_purpose: ChargingProfilePurposeType
    charging_profile_kind: ChargingProfileKindType
    charging_schedule: ChargingSchedule
    transaction_id: int | None = None
    recurrency_kind: RecurrencyKindType | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None


@message_class
class KeyValue:
    """A configuration key as reported by GetConfiguration (§6.12)."""

    key: CiString50
    readonly: bool
    value: CiString500 | None = None


@message_class
class CertificateHashData:
    """Identifies a certificate by hashes of its issuer and its serial number (whitepaper §4.1)."""

    hash_algorithm: HashAlgorithm
    issuer_name_hash: Annotated[str, MaxLength(128)]
    issuer_key_hash: Annotated[str, MaxLength(128)]
    serial_number: Annotated[str, MaxLength(40)]


@message_class
class Firmware:
    """Where to fetch signed firmware and how to check it (whitepaper §4.2)."""

    location: Annotated[str, MaxLength(512)]
    retrieve_date_time: datetime
    signing_certificate: Annotated[str, MaxLength(5500)]
    signature: Annotated[str, MaxLength(800)]
    install_date_time: datetime | None = None


@message_class
class LogParameters:
    """Where to upload a log and which time span it covers (whitepaper §4.3)."""

    remote_location: Annotated[str, MaxLength(512)]
    oldest_timestamp: datetime | None = None
    latest_timestamp: datetime | None = None
