"""The cattrs converter between message classes and JSON-ready payloads.

snake_case attributes ↔ camelCase wire names, aware datetimes (out as UTC with ``Z``, in as any
RFC 3339 form), enums by value, absent optionals omitted rather than sent as ``null``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import attrs
import cattrs

from ._schema_compiler import is_rfc3339_date_time
from ._trusted import slot_setter
from .constraints import RelaxedValue, constraints_of, sequence_type

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "datetime_to_wire",
    "make_converter",
    "parse_datetime",
    "parse_validated_datetime",
    "wire_name",
]

_CAMEL_BOUNDARY = re.compile(r"_([a-z0-9])")


def wire_name(attribute: str) -> str:
    """The camelCase wire name of a snake_case attribute (``id_tag`` → ``idTag``)."""
    return _CAMEL_BOUNDARY.sub(lambda m: m.group(1).upper(), attribute)


def parse_datetime(value: Any) -> datetime:
    """Parse an RFC 3339 date-time (§5.6); a value without a UTC offset is refused.

    ``t`` and ``z`` may be lower case; a leap second (``23:59:60``) is read as the last
    microsecond before it (``23:59:59.999999``), since ``datetime`` has no 61st second;
    digits past the microsecond are dropped. A value whose UTC instant falls outside the
    years 1 to 9999 is refused (``ValueError``): no store could keep it.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        if not is_rfc3339_date_time(value):
            raise ValueError(_not_rfc3339(value))
        parsed = _from_rfc3339(value)
    else:
        raise TypeError(f"expected an RFC 3339 date-time string, got {type(value).__name__}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"{_glimpse(value)} has no UTC offset; OCPP date-times must carry one")
    return _in_range(parsed, value)


def _glimpse(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 48 else text[:47] + "…"


def _not_rfc3339(text: str) -> str:
    try:
        naive = datetime.fromisoformat(text).tzinfo is None
    except ValueError:
        naive = False
    reason = ": it has no UTC offset, which OCPP date-times must carry" if naive else ""
    return f"{_glimpse(text)} is not an RFC 3339 date-time{reason}"


def _from_rfc3339(text: str) -> datetime:
    # The text matched the RFC 3339 grammar, so only digits, separators, T/t and Z/z are in it.
    text = text.upper()
    leap = text[17:19] == "60"
    if leap:
        text = f"{text[:17]}59{text[19:]}"
    parsed = datetime.fromisoformat(text)
    return parsed.replace(microsecond=999_999) if leap else parsed


def _in_range(parsed: datetime, value: Any) -> datetime:
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{_glimpse(value)}: its UTC instant falls outside the years 1 to 9999"
        ) from None
    return parsed


def parse_validated_datetime(value: str) -> datetime:
    """:func:`parse_datetime` for text a schema's ``date-time`` format has accepted already:
    the RFC 3339 grammar is not matched a second time."""
    if value[-1] == "Z" and value[10] == "T" and value[17:19] != "60":
        # The usual form, UTC: nothing to normalise, and no instant in UTC is out of range.
        return datetime.fromisoformat(value)
    return _in_range(_from_rfc3339(value), value)


def _parse_datetime_as_utc(value: Any) -> datetime:
    # Only for payloads a relaxed policy let through: charge points that send local timestamps
    # without an offset mean UTC far more often than anything else (docs/messages.md).
    if isinstance(value, str) and not is_rfc3339_date_time(value):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{_glimpse(value)} is not a date-time") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return _in_range(parsed, value)
    return parse_datetime(value)


# The last second written and its text: consecutive answers mostly fall in the same second,
# whose "YYYY-MM-DDTHH:MM:SS" is then reused (one tuple, replaced whole: safe across threads).
_LAST_SECOND: tuple[tuple[int, ...], str] = ((), "")


def datetime_to_wire(value: datetime) -> str:
    """UTC with a ``Z`` suffix, with only as many fraction digits as the value needs."""
    global _LAST_SECOND
    if value.tzinfo is not UTC:  # UTC itself (what our clocks give) needs no conversion
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{value!r} is naive; OCPP date-times must be timezone-aware")
        value = value.astimezone(UTC)
    second = (value.second, value.minute, value.hour, value.day, value.month, value.year)
    last, text = _LAST_SECOND
    if second != last:
        # "YYYY-MM-DDTHH:MM:SS+00:00" (the year always has four digits), without the offset.
        text = value.isoformat(timespec="seconds")[:-6]
        _LAST_SECOND = (second, text)
    micro = value.microsecond
    if not micro:
        return text + "Z"
    if micro % 1000 == 0:
        # Milliseconds are what most charge point firmware parses; keep them when exact.
        return f"{text}.{micro // 1000:03d}Z"
    return f"{text}.{micro:06d}Z"


def _enum_lookup(cls: type[Enum], *, lenient: bool) -> Callable[[Any], Any]:
    members = {member.value: member for member in cls}
    if lenient:
        # An unknown value that a relaxed validation policy let through is kept as it came,
        # marked so the message class lets it in (a value built in Python is still refused).
        return lambda value: members.get(value) or RelaxedValue(value)

    def lookup(value: Any) -> Any:
        try:
            return members[value]
        except (KeyError, TypeError):
            raise ValueError(f"{value!r} is not a valid {cls.__name__}") from None

    return lookup


INT64_MIN = -(2**63)
"""The smallest integer a message field may hold (OCPP 1.6 sets no width; stores need one)."""
INT64_MAX = 2**63 - 1
"""The largest integer a message field may hold: ``transactionId`` 9223372036854775807 is
what some charge points send for "no id", and every shipped store keeps it."""


def _to_int(value: Any) -> int:
    # Draft-06 schemas accept 5.0 as an integer; the class holds an int.
    if type(value) is int:
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise TypeError(f"expected an integer, got {_glimpse(value)}")
    if not INT64_MIN <= number <= INT64_MAX:
        # Refused up front, as a PropertyConstraintViolation, rather than failing every store.
        raise ValueError("an integer beyond the signed 64-bit range cannot be kept")
    return number


def _to_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {_glimpse(value)}")
    try:
        return float(value)
    except OverflowError:  # an integer literal with hundreds of digits
        raise ValueError("a number too large for a double") from None


def _to_str(value: Any) -> str:
    if type(value) is not str:
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _to_bool(value: Any) -> bool:
    if type(value) is not bool:
        raise TypeError(f"expected a boolean, got {value!r}")
    return value


class _CodeGen:
    """Generates one structure and one unstructure function per message class.

    cattrs' generic hooks dispatch on every optional and enum value; message payloads have a
    small, fixed shape, so straight-line code per class is several times faster (see
    docs/performance.md). The functions are registered as cattrs hooks.
    """

    def __init__(
        self,
        converter: cattrs.Converter,
        *,
        lenient: bool,
        parse_datetimes: Callable[[str], datetime] | None = None,
        validated: bool = False,
    ) -> None:
        self.converter = converter
        self.lenient = lenient
        self.parse_datetimes = parse_datetimes
        self.validated = validated

    def _value_in(self, tp: Any, names: dict[str, Any]) -> str:
        """Name of a function turning a wire value of type ``tp`` into the attribute value."""
        base, _, _ = constraints_of(tp)
        key = f"_in{len(names)}"
        if base is str:
            names[key] = _to_str
        elif base is bool:
            names[key] = _to_bool
        elif base is int:
            names[key] = _to_int
        elif base is float:
            names[key] = _to_float
        elif base is datetime:
            names[key] = self.parse_datetimes or (
                _parse_datetime_as_utc if self.lenient else parse_datetime
            )
        elif isinstance(base, type) and issubclass(base, Enum):
            names[key] = _enum_lookup(base, lenient=self.lenient)
        elif attrs.has(base):
            names[key] = self.converter.get_structure_hook(base)
        elif sequence_type(base) is not None:
            item = self._value_in(sequence_type(base), names)
            item_fn = names[item]

            def items(value: Any, item_fn: Callable[[Any], Any] = item_fn) -> tuple[Any, ...]:
                if type(value) is not list:
                    raise TypeError(f"expected an array, got {value!r}")
                return tuple([item_fn(v) for v in value])

            names[key] = items
        else:  # pragma: no cover - every field type of the message classes is handled above
            raise TypeError(f"no structure rule for {tp!r}")
        return key

    def _value_expr(self, tp: Any, names: dict[str, Any], value: str) -> str:
        """Python expression turning the wire value named ``value`` into the attribute value.

        For payloads that passed their schema (``validated``) a string or boolean is taken as
        it is and an enum value is looked up in place: the schema checked the type and the
        enumeration already, so checking them again per field would be the second check the
        validation makes unnecessary (an unexpected value still fails, with ``KeyError``).
        """
        if self.validated:
            base, _, _ = constraints_of(tp)
            if base is str or base is bool:
                return value
            if isinstance(base, type) and issubclass(base, Enum):
                key = f"_e{len(names)}"
                names[key] = {member.value: member for member in base}
                return f"{key}[{value}]"
            if base is int:
                # The usual int in range is taken as it is; anything else (5.0, a number
                # beyond 64 bits) goes through the converting, refusing function.
                fn = self._value_in(tp, names)
                names["_LO"], names["_HI"] = INT64_MIN, INT64_MAX
                if value == "v":
                    return f"(v if type(v) is int and _LO <= v <= _HI else {fn}(v))"
                return f"(x if type(x := {value}) is int and _LO <= x <= _HI else {fn}(x))"
        return f"{self._value_in(tp, names)}({value})"

    def structure_fn(self, cls: type) -> Callable[[Any, Any], Any]:
        # The payload passed schema validation, and each field function below checks and
        # converts its type (an enum value becomes its member), so the instance is built
        # without running the class's validators and converters a second time.
        names: dict[str, Any] = {"_cls": cls, "_new": object.__new__}
        lines = [f"def structure_{cls.__name__}(d, _=None):", "    g = d.get", "    o = _new(_cls)"]
        for field in attrs.fields(cls):
            wire = wire_name(field.name)
            setter = f"_set_{field.name}"
            names[setter] = slot_setter(cls, field.name)
            if field.default is attrs.NOTHING:
                expr = self._value_expr(field.type, names, f"d[{wire!r}]")
                lines.append(f"    {setter}(o, {expr})")
            else:
                expr = self._value_expr(field.type, names, "v")
                lines.append(f"    {setter}(o, None if (v := g({wire!r})) is None else {expr})")
        lines.append("    return o")
        built: Callable[[Any, Any], Any] = _compile(lines, names, f"structure_{cls.__name__}")
        return built

    def _value_out(self, tp: Any, names: dict[str, Any]) -> str | None:
        """Name of a function turning an attribute value into its wire value, or None (as is)."""
        base, _, _ = constraints_of(tp)
        if base in (str, bool, int, float):
            return None
        key = f"_out{len(names)}"
        if base is datetime:
            names[key] = datetime_to_wire
        elif isinstance(base, type) and issubclass(base, Enum):
            names[key] = str  # a StrEnum's str() is its value; a relaxed plain str stays as is
        elif attrs.has(base):
            names[key] = self.converter.get_unstructure_hook(base)
        elif sequence_type(base) is not None:
            item = self._value_out(sequence_type(base), names)
            if item is None:
                names[key] = list
            else:
                item_fn = names[item]
                names[key] = lambda value, item_fn=item_fn: [item_fn(v) for v in value]
        else:  # pragma: no cover
            raise TypeError(f"no unstructure rule for {tp!r}")
        return key

    def unstructure_fn(self, cls: type) -> Callable[[Any], Any]:
        names: dict[str, Any] = {}
        lines = [f"def unstructure_{cls.__name__}(o):", "    r = {}"]
        for field in attrs.fields(cls):
            fn = self._value_out(field.type, names)
            wire = wire_name(field.name)
            value = f"{fn}(v)" if fn else "v"
            if field.default is attrs.NOTHING:
                lines.append(f"    v = o.{field.name}")
                lines.append(f"    r[{wire!r}] = {value}")
            else:
                lines.append(f"    if (v := o.{field.name}) is not None:")
                lines.append(f"        r[{wire!r}] = {value}")
        lines.append("    return r")
        out: Callable[[Any], Any] = _compile(lines, names, f"unstructure_{cls.__name__}")
        return out


def _compile(lines: list[str], names: dict[str, Any], name: str) -> Any:
    namespace = dict(names)
    exec(compile("\n".join(lines), f"<ocpp16csms generated {name}>", "exec"), namespace)
    return namespace[name]


def make_converter(
    *,
    lenient: bool = False,
    parse_datetimes: Callable[[str], datetime] | None = None,
    validated: bool = False,
) -> cattrs.Converter:
    """Build a converter for the message classes.

    ``converter.structure(payload, SomeRequest)`` and ``converter.unstructure(message)`` map
    between classes and JSON-ready dicts. The input of ``structure`` is expected to have passed
    schema validation; anything else raises ``ValueError``, ``TypeError`` or ``KeyError``.
    ``parse_datetimes`` replaces the RFC 3339 reading of date-times (a store reading back the
    exact ``isoformat()`` text it wrote passes ``datetime.fromisoformat``).
    ``lenient=True`` keeps an enum value outside the enumeration as a plain ``str`` instead of
    failing, and reads a date-time without an offset as UTC; it is used, with attrs validators
    disabled, only for payloads a relaxed :class:`~ocpp16csms.validation.ValidationPolicy`
    accepted. ``validated=True`` is for payloads that passed their schema in full: what the
    schema checked (string and boolean types, enumerations, the date-time format) is not
    checked again, which makes structuring about twice as fast; anything else may then be
    taken in unchecked.
    """
    if validated and lenient:
        raise ValueError("a lenient converter reads what the schema did not accept in full")
    if validated and parse_datetimes is None:
        parse_datetimes = parse_validated_datetime
    converter = cattrs.Converter(detailed_validation=False, forbid_extra_keys=False)
    read_datetime = parse_datetimes or parse_datetime
    converter.register_structure_hook(datetime, lambda value, _: read_datetime(value))
    converter.register_unstructure_hook(datetime, datetime_to_wire)
    gen = _CodeGen(converter, lenient=lenient, parse_datetimes=parse_datetimes, validated=validated)
    converter.register_structure_hook_factory(attrs.has, gen.structure_fn)
    converter.register_unstructure_hook_factory(attrs.has, gen.unstructure_fn)
    return converter
