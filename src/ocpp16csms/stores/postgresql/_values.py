"""Python values to PostgreSQL columns and back, losslessly (see ``docs/stores-postgresql.md``).

- Strings go through :func:`~ocpp16csms.stores._lossless.escape_text` (NUL and lone
  surrogates cannot be PostgreSQL text).
- A datetime is two columns: ``<name> timestamptz``, the instant (compared, ordered, indexed;
  written in binary, so any aware datetime fits), and ``<name>_offset interval``, the UTC
  offset it was given in. The instant is read back as a raw integer (microseconds since
  2000-01-01 UTC, PostgreSQL's epoch) and rebuilt in its own offset, because its UTC form may
  lie outside the years Python's ``datetime`` holds (``9999-12-31T23:59:59-23:59``).
- Integers are ``bigint`` wherever OCPP sends one, so the signed 64-bit range fits; a value
  beyond it fails with ``StoreError`` (PostgreSQL's "bigint out of range").
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from typing import Any

import psycopg
from psycopg.adapt import Loader
from psycopg.pq import Format
from psycopg.types.datetime import DatetimeBinaryDumper

from .._lossless import escape_text, unescape_text

__all__ = [
    "configure_adapters",
    "enum_text",
    "instant",
    "member",
    "offset_text",
    "opt_enum_text",
    "opt_instant",
    "opt_member",
    "opt_offset_text",
    "opt_text",
    "opt_when",
    "read_opt_text",
    "read_text",
    "text",
    "when",
]

_PG_EPOCH = datetime(2000, 1, 1)
_INT8 = struct.Struct(">q")


class _InstantLoader(Loader):
    """timestamptz in binary as its raw count of microseconds since 2000-01-01 UTC."""

    format = Format.BINARY

    def load(self, data: Any) -> int:
        value: int = _INT8.unpack(bytes(data))[0]
        return value


def configure_adapters(connection: psycopg.Connection[Any]) -> None:
    """Dump every datetime in binary, and load timestamptz as :class:`_InstantLoader` does."""
    connection.adapters.register_dumper(datetime, DatetimeBinaryDumper)
    connection.adapters.register_loader("timestamptz", _InstantLoader)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value!r} is naive; stored date-times must be timezone-aware")
    return value


def instant(value: datetime) -> datetime:
    """``value`` for a timestamptz parameter; a naive datetime is refused with ValueError."""
    return _aware(value)


def opt_instant(value: datetime | None) -> datetime | None:
    return None if value is None else _aware(value)


def offset_text(value: datetime) -> str:
    """The UTC offset of ``value`` as interval text (``-23:59:00``, ``+05:30:00.000007``)."""
    offset = _aware(value).utcoffset()
    assert offset is not None
    micros = offset // timedelta(microseconds=1)
    sign = "-" if micros < 0 else "+"
    seconds, fraction = divmod(abs(micros), 1_000_000)
    hours, rest = divmod(seconds, 3600)
    return f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}.{fraction:06d}"


def opt_offset_text(value: datetime | None) -> str | None:
    return None if value is None else offset_text(value)


def when(instant: int, offset: timedelta) -> datetime:
    """The datetime stored as ``instant`` (see :class:`_InstantLoader`) and ``offset``."""
    # One addition of instant and offset together: the local time is in range even when
    # the UTC time is not.
    local = _PG_EPOCH + (timedelta(microseconds=instant) + offset)
    zone = UTC if not offset else timezone(offset)
    return local.replace(tzinfo=zone)


def opt_when(instant: int | None, offset: timedelta | None) -> datetime | None:
    if instant is None or offset is None:
        return None
    return when(instant, offset)


def text(value: str) -> str:
    return escape_text(value)


def opt_text(value: str | None) -> str | None:
    return None if value is None else escape_text(value)


def read_text(value: str) -> str:
    return unescape_text(value)


def read_opt_text(value: str | None) -> str | None:
    return None if value is None else unescape_text(value)


def enum_text(value: Any) -> str:
    """An enumeration member's value (or a relaxed plain string), escaped."""
    return escape_text(str(value.value) if isinstance(value, Enum) else str(value))


def opt_enum_text(value: Any) -> str | None:
    return None if value is None else enum_text(value)


def member(cls: type[Enum], stored: str) -> Any:
    """The member of ``cls`` with the stored value; the plain text when there is none."""
    value = unescape_text(stored)
    try:
        return cls(value)
    except ValueError:
        return value


def opt_member(cls: type[Enum], stored: str | None) -> Any:
    return None if stored is None else member(cls, stored)
