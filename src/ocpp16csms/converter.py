"""The cattrs converter between message classes and JSON-ready payloads.

snake_case attributes ↔ camelCase wire names, aware datetimes (out as UTC with ``Z``, in as any
RFC 3339 form), enums by value, absent optionals omitted rather than sent as ``null``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from . import enums

__all__ = ["datetime_to_wire", "make_converter", "parse_datetime", "wire_name"]

_CAMEL_BOUNDARY = re.compile(r"_([a-z0-9])")


def wire_name(attribute: str) -> str:
    """The camelCase wire name of a snake_case attribute (``id_tag`` → ``idTag``)."""
    return _CAMEL_BOUNDARY.sub(lambda m: m.group(1).upper(), attribute)


def parse_datetime(value: Any) -> datetime:
    """Parse an RFC 3339 date-time; a value without a UTC offset is refused."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an RFC 3339 date-time") from None
    else:
        raise TypeError(f"expected an RFC 3339 date-time string, got {type(value).__name__}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"{value!r} has no UTC offset; OCPP date-times must carry one")
    return parsed


def datetime_to_wire(value: datetime) -> str:
    """UTC with a ``Z`` suffix, with only as many fraction digits as the value needs."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value!r} is naive; OCPP date-times must be timezone-aware")
    utc = value.astimezone(UTC)
    if utc.microsecond == 0:
        spec = "seconds"
    elif utc.microsecond % 1000 == 0:
        # Milliseconds are what most charge point firmware parses; keep them when exact.
        spec = "milliseconds"
    else:
        spec = "microseconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _lenient_enum(cls: type[Enum]) -> Callable[[Any, Any], Any]:
    values = {member.value: member for member in cls}

    def structure(value: Any, _: Any) -> Any:
        # An unknown value that a relaxed validation policy let through arrives as plain str.
        return values.get(value, value)

    return structure


def make_converter(*, lenient: bool = False) -> cattrs.Converter:
    """Build a converter for the message classes.

    ``lenient=True`` keeps an enum value outside the enumeration as a plain ``str`` instead of
    failing; it is used, together with disabled attrs validators, only for payloads a relaxed
    :class:`~ocpp16csms.validation.ValidationPolicy` accepted.
    """
    converter = cattrs.Converter(detailed_validation=False, forbid_extra_keys=False)
    converter.register_structure_hook(datetime, lambda value, _: parse_datetime(value))
    converter.register_unstructure_hook(datetime, datetime_to_wire)
    if lenient:
        # Per class: StrEnums are str subclasses, and cattrs' str hook would win over a factory.
        for value in vars(enums).values():
            if isinstance(value, type) and issubclass(value, Enum) and value is not StrEnum:
                converter.register_structure_hook(value, _lenient_enum(value))

    def structure_factory(cls: type) -> Any:
        renames: dict[str, Any] = {
            f.name: override(rename=wire_name(f.name)) for f in attrs.fields(cls)
        }
        return make_dict_structure_fn(cls, converter, **renames)

    def unstructure_factory(cls: type) -> Any:
        renames: dict[str, Any] = {
            f.name: override(rename=wire_name(f.name)) for f in attrs.fields(cls)
        }
        return make_dict_unstructure_fn(cls, converter, _cattrs_omit_if_default=True, **renames)

    converter.register_structure_hook_factory(attrs.has, structure_factory)
    converter.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return converter
