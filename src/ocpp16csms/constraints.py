"""The OCPP 1.6 field constraints, expressed as ``typing.Annotated`` metadata.

A field is declared once, in the spec's own words (``id_tag: CiString20``), and that one
declaration gives the attrs validators (through :func:`constrain_fields`), the schema agreement
test, and the documentation. Message classes are built with :data:`message_class`.
"""

# Real (not postponed) annotations: the constraints are read from them while the class is built.
import types
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, TypeVar, Union, dataclass_transform, get_args, get_origin

import attrs

__all__ = [
    "CiString20",
    "CiString25",
    "CiString50",
    "CiString255",
    "CiString500",
    "ConnectorId",
    "MaxItems",
    "MaxLength",
    "MinItems",
    "Minimum",
    "MultipleOf",
    "NonNegativeInt",
    "PositiveConnectorId",
    "RelaxedValue",
    "TenthDecimal",
    "constrain_fields",
    "constraints_of",
    "message_class",
]


@attrs.frozen
class MaxLength:
    """A string holds at most ``value`` characters (CiString<n> and the whitepaper's string<n>)."""

    value: int


@attrs.frozen
class Minimum:
    """An integer is at least ``value``."""

    value: int


@attrs.frozen
class MultipleOf:
    """A decimal is a multiple of ``value`` ("accepts at most one digit fraction")."""

    value: Decimal


@attrs.frozen
class MinItems:
    """A list holds at least ``value`` items (cardinality 1..*)."""

    value: int


@attrs.frozen
class MaxItems:
    """A list holds at most ``value`` items (cardinality 0..n; OCPP 2.0.1 payloads need it)."""

    value: int


Constraint = MaxLength | Minimum | MultipleOf | MinItems | MaxItems

CiString20 = Annotated[str, MaxLength(20)]
"""A case-insensitive string of at most 20 characters (§7.1 CiString20Type)."""
CiString25 = Annotated[str, MaxLength(25)]
"""A case-insensitive string of at most 25 characters (§7.1 CiString25Type)."""
CiString50 = Annotated[str, MaxLength(50)]
"""A case-insensitive string of at most 50 characters (§7.1 CiString50Type)."""
CiString255 = Annotated[str, MaxLength(255)]
"""A case-insensitive string of at most 255 characters (§7.1 CiString255Type)."""
CiString500 = Annotated[str, MaxLength(500)]
"""A case-insensitive string of at most 500 characters (§7.1 CiString500Type)."""
ConnectorId = Annotated[int, Minimum(0)]
"""A connector id where 0 (the charge point as a whole) is allowed."""
PositiveConnectorId = Annotated[int, Minimum(1)]
"""A connector id the spec requires to be > 0."""
NonNegativeInt = Annotated[int, Minimum(0)]
"""An integer >= 0 (a charging profile's stack level)."""
TenthDecimal = Annotated[float, MultipleOf(Decimal("0.1"))]
"""A decimal with at most one digit fraction (charging limits and rates)."""


def constraints_of(tp: Any) -> tuple[Any, tuple[Constraint, ...], bool]:
    """Split a field type into (bare type, constraints, optional)."""
    optional = False
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        optional = len(args) != len(get_args(tp))
        tp = args[0] if len(args) == 1 else tp
    found: tuple[Constraint, ...] = ()
    if get_origin(tp) is Annotated:
        base, *meta = get_args(tp)
        found = tuple(
            m for m in meta if isinstance(m, MaxLength | Minimum | MultipleOf | MinItems | MaxItems)
        )
        tp = base
    return tp, found, optional


_Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _check_max_length(limit: int) -> _Validator:
    def check(_: Any, attribute: "attrs.Attribute[Any]", value: Any) -> None:
        if len(value) > limit:
            raise ValueError(
                f"{attribute.name} is {len(value)} characters long; at most {limit} allowed"
            )

    return check


def _check_minimum(limit: int) -> _Validator:
    def check(_: Any, attribute: "attrs.Attribute[Any]", value: Any) -> None:
        if value < limit:
            raise ValueError(f"{attribute.name} is {value}; it must be >= {limit}")

    return check


def _check_min_items(limit: int) -> _Validator:
    def check(_: Any, attribute: "attrs.Attribute[Any]", value: Any) -> None:
        if len(value) < limit:
            raise ValueError(f"{attribute.name} has {len(value)} items; at least {limit} needed")

    return check


def _check_max_items(limit: int) -> _Validator:
    def check(_: Any, attribute: "attrs.Attribute[Any]", value: Any) -> None:
        if len(value) > limit:
            raise ValueError(f"{attribute.name} has {len(value)} items; at most {limit} allowed")

    return check


def _check_multiple_of(step: Decimal) -> _Validator:
    def check(_: Any, attribute: "attrs.Attribute[Any]", value: Any) -> None:
        if Decimal(repr(value)) % step != 0:
            raise ValueError(f"{attribute.name} is {value!r}; it must be a multiple of {step}")

    return check


def _check_aware(_: Any, attribute: "attrs.Attribute[Any]", value: Any) -> None:
    zone = value.tzinfo
    if zone is not UTC and (zone is None or value.utcoffset() is None):
        raise ValueError(f"{attribute.name} must be a timezone-aware datetime, got {value!r}")


def _snap_tenth(value: Any) -> Any:
    # Python arithmetic leaves noise such as 11.199999999999999 for 16 * 0.7; snap values
    # that are a tenth-multiple up to float error, and leave real violations to the validator.
    if isinstance(value, int | float) and not isinstance(value, bool):
        snapped = round(float(value), 1)
        return snapped if abs(snapped - value) < 1e-9 else float(value)
    return value


def _item_validators(tp: Any) -> list[_Validator]:
    base, found, _ = constraints_of(tp)
    checks: list[_Validator] = []
    for c in found:
        if isinstance(c, MaxLength):
            checks.append(_check_max_length(c.value))
        elif isinstance(c, Minimum):
            checks.append(_check_minimum(c.value))
        elif isinstance(c, MultipleOf):
            checks.append(_check_multiple_of(c.value))
        elif isinstance(c, MinItems):
            checks.append(_check_min_items(c.value))
        elif isinstance(c, MaxItems):
            checks.append(_check_max_items(c.value))
    if base is datetime:
        checks.append(_check_aware)
    if get_origin(base) is tuple:
        members = _item_validators(get_args(base)[0])
        if members:
            checks.append(
                attrs.validators.deep_iterable(member_validator=attrs.validators.and_(*members))
            )
    return checks


def _to_tuple(value: Any) -> Any:
    return value if isinstance(value, tuple) or value is None else tuple(value)


class RelaxedValue(str):
    """A value outside its enumeration that a relaxed validation policy let in from the wire
    (see :class:`~ocpp16csms.validation.Relaxation`); message classes keep it as it came."""

    __slots__ = ()


def _enum_member(enum: type[Enum], *, optional: bool = False) -> Callable[[Any], Any]:
    """A converter: the member itself, or the member whose wire value is given.

    Anything else is refused when the message is built, naming the values allowed, so an
    invalid message cannot exist (it would otherwise fail only when sent).
    """

    def convert(value: Any) -> Any:
        if (value is None and optional) or isinstance(value, enum | RelaxedValue):
            return value
        try:
            return enum(value)
        except (ValueError, TypeError):
            allowed = ", ".join(repr(m.value) for m in enum)
            raise ValueError(
                f"{value!r} is not a {enum.__name__}; one of {allowed} is allowed"
            ) from None

    return convert


def _enum_items(enum: type[Enum], *, optional: bool) -> Callable[[Any], Any]:
    member = _enum_member(enum)

    def convert(value: Any) -> Any:
        if value is None and optional:
            return None
        return tuple(member(item) for item in value)

    return convert


def constrain_fields(
    cls: type, fields: "list[attrs.Attribute[Any]]"
) -> "list[attrs.Attribute[Any]]":
    """attrs ``field_transformer``: turn each field's annotated constraints into validators."""
    out = []
    for field in fields:
        base, found, optional = constraints_of(field.type)
        checks = _item_validators(field.type)
        changes: dict[str, Any] = {}
        if checks:
            # One check is called as it is (no wrapper call per instance built).
            check = checks[0] if len(checks) == 1 else attrs.validators.and_(*checks)
            changes["validator"] = attrs.validators.optional(check) if optional else check
        item = get_args(base)[0] if get_origin(base) is tuple else None
        if isinstance(base, type) and issubclass(base, Enum):
            changes["converter"] = _enum_member(base, optional=optional)
        elif isinstance(item, type) and issubclass(item, Enum):
            changes["converter"] = _enum_items(item, optional=optional)
        elif get_origin(base) is tuple:
            changes["converter"] = _to_tuple
        elif any(isinstance(c, MultipleOf) for c in found):
            changes["converter"] = _snap_tenth
        out.append(field.evolve(**changes) if changes else field)
    return out


_C = TypeVar("_C", bound=type)


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(attrs.field,))
def message_class(cls: _C) -> _C:
    """Make ``cls`` a frozen, slotted, keyword-only attrs class with its constraints enforced."""
    return attrs.frozen(kw_only=True, field_transformer=constrain_fields)(cls)


def sequence_type(tp: Any) -> Any:
    """The item type of a ``tuple[X, ...]`` field type, or None."""
    base, _, _ = constraints_of(tp)
    return get_args(base)[0] if get_origin(base) is tuple else None
