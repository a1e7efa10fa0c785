"""Keeping any value a charge point may send, exactly, in a database that cannot hold some.

Shared by the PostgreSQL stores and the SQLite device-state store:

- **Text.** A validated OCPP string may hold NUL (PostgreSQL text refuses it) or a lone
  surrogate such as ``"\\ud800"`` (no UTF-8 encoder accepts it). :func:`escape_text` writes each
  such character, and the escape character U+0001 itself, as U+0001 followed by four lowercase
  hex digits; every other string is stored unchanged, so the database stays readable.
  :func:`unescape_text` reverses it. The mapping is one-to-one, so equality (keys, unique
  indexes, lookups) is the same on either side.
- **Nested datatypes** as JSON text (:func:`dump_value`): the wire's camelCase names, but
  datetimes as ISO 8601 *with their own offset* (the wire converter writes UTC, which cannot
  represent ``9999-12-31T23:59:59-23:59``). :func:`load_value` reads them back through the
  lenient wire converter. :func:`value_digest` hashes a canonical form in which datetimes are
  instants, so values equal as Python objects have equal digests.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, TypeVar

import attrs

from ..converter import make_converter, wire_name

__all__ = [
    "dump_value",
    "escape_text",
    "instant_micros",
    "load_value",
    "load_values",
    "unescape_text",
    "value_digest",
]

_T = TypeVar("_T")

_ESCAPE = "\x01"
_NEEDS_ESCAPE = re.compile("[\x00\x01\ud800-\udfff]")
_ESCAPED = re.compile("\x01([0-9a-f]{4})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# Reading back: a value a relaxed validation policy let through (an enum value outside the
# enumeration, kept as a plain str) must read back too rather than make the row unreadable.
# What this module wrote is read back exactly: ``isoformat()`` text with its own offset, even
# one whose UTC instant falls outside what the wire accepts (a value built in Python).
_READER = make_converter(lenient=True, parse_datetimes=datetime.fromisoformat)


def escape_text(text: str) -> str:
    """``text`` with NUL, lone surrogates and U+0001 written as U+0001 and four hex digits."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return _NEEDS_ESCAPE.sub(lambda m: f"{_ESCAPE}{ord(m.group()):04x}", text)


def unescape_text(text: str) -> str:
    """The string :func:`escape_text` was given."""
    if _ESCAPE not in text:
        return text
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def instant_micros(value: datetime) -> int:
    """Microseconds since the Unix epoch: the instant, whatever the offset.

    Aware subtraction never builds the UTC datetime, so it works for every aware datetime,
    also those whose UTC equivalent lies outside years 1 to 9999. A naive one is refused.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value!r} is naive; stored date-times must be timezone-aware")
    return (value - _EPOCH) // _MICROSECOND


def _unstructure(value: Any, *, instants: bool) -> Any:
    if isinstance(value, datetime):
        return instant_micros(value) if instants else value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_unstructure(item, instants=instants) for item in value]
    if attrs.has(type(value)):
        return {
            wire_name(field.name): _unstructure(item, instants=instants)
            for field in attrs.fields(type(value))
            if (item := getattr(value, field.name)) is not None
        }
    return value


def _json(value: Any) -> str:
    # Sorted keys and no spaces: equal values give equal text.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dump_value(value: Any) -> str:
    """JSON text of an attrs datatype (or a list of them), escaped with :func:`escape_text`."""
    return escape_text(_json(_unstructure(value, instants=False)))


def load_value(text: str, cls: type[_T]) -> _T:
    """The ``cls`` instance :func:`dump_value` wrote."""
    loaded: _T = _READER.structure(json.loads(unescape_text(text)), cls)
    return loaded


def load_values(text: str, cls: type[_T]) -> tuple[_T, ...]:
    """The tuple of ``cls`` instances :func:`dump_value` wrote as a list."""
    return tuple(_READER.structure(item, cls) for item in json.loads(unescape_text(text)))


def value_digest(value: Any) -> bytes:
    """SHA-256 of a canonical form of ``value``: equal values (datetimes as instants) give
    equal digests, different ones different digests."""
    text = escape_text(_json(_unstructure(value, instants=True)))
    return hashlib.sha256(text.encode()).digest()
