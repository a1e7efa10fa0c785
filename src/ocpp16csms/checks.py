"""Checks made before a request is sent, shared by several features.

Each raises :class:`~ocpp16csms.errors.InvalidRequest` (nothing is sent) with a message that
names the field and what is wrong.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .errors import InvalidRequest
from .messages.base import Request
from .stores.records import ConfigurationStore

__all__ = [
    "FILE_TRANSFER_SCHEMES",
    "build_request",
    "check_connector",
    "check_location",
    "check_retries",
    "check_time_span",
    "number_of_connectors",
]

_Q = TypeVar("_Q", bound=Request[Any])


def build_request(request_type: type[_Q], **fields: Any) -> _Q:
    """Construct a request, turning a constraint failure into :class:`InvalidRequest`."""
    try:
        return request_type(**fields)
    except (ValueError, TypeError) as error:
        raise InvalidRequest(f"{request_type.__name__}: {error}") from None


async def number_of_connectors(
    configuration: ConfigurationStore, charge_point_id: str
) -> int | None:
    """The connectors the charge point reported (configuration key NumberOfConnectors)."""
    entry = (await configuration.get(charge_point_id)).get("NumberOfConnectors")
    if entry is None or entry.value is None:
        return None
    try:
        return int(entry.value)
    except ValueError:
        return None


async def check_connector(
    configuration: ConfigurationStore,
    charge_point_id: str,
    connector_id: int | None,
    *,
    allow_zero: bool,
) -> None:
    """Refuse a connector id below 1 (or 0 with ``allow_zero``) or above the number the
    charge point reported."""
    if connector_id is None:
        return
    if connector_id < (0 if allow_zero else 1):
        lowest = 0 if allow_zero else 1
        raise InvalidRequest(f"connector id {connector_id} is below {lowest}")
    known = await number_of_connectors(configuration, charge_point_id)
    if known is not None and connector_id > known:
        raise InvalidRequest(
            f"connector {connector_id} does not exist: {charge_point_id!r} reported "
            f"{known} connectors"
        )


FILE_TRANSFER_SCHEMES = frozenset({"ftp", "ftps", "http", "https", "sftp"})
"""URI schemes a firmware or upload location may use (the file transfer protocols that OCPP
names in its FileTransferProtocolEnumType); anything else is refused before sending."""


def check_location(location: str, field: str = "location") -> None:
    """Raise :class:`InvalidRequest` unless ``location`` is an absolute URI that a charge point
    can transfer a file with: a scheme of :data:`FILE_TRANSFER_SCHEMES`, a host, no whitespace."""
    if not isinstance(location, str) or not location:
        raise InvalidRequest(f"{field} must be a non-empty URI")
    if any(c.isspace() or not c.isprintable() for c in location):
        raise InvalidRequest(f"{field} {location!r} contains whitespace or control characters")
    try:
        parts = urlsplit(location)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as error:
        raise InvalidRequest(f"{field} {location!r} is not a valid URI: {error}") from None
    if parts.scheme.lower() not in FILE_TRANSFER_SCHEMES:
        schemes = ", ".join(sorted(FILE_TRANSFER_SCHEMES))
        raise InvalidRequest(f"{field} {location!r} must use one of the schemes {schemes}")
    if not parts.hostname:
        raise InvalidRequest(f"{field} {location!r} names no host")


def check_retries(retries: int | None, retry_interval: int | None) -> None:
    """Raise :class:`InvalidRequest` for a negative ``retries`` or ``retry_interval``."""
    for name, value in (("retries", retries), ("retry_interval", retry_interval)):
        if value is not None and (isinstance(value, bool) or value < 0):
            raise InvalidRequest(f"{name} must be an integer of at least 0, got {value!r}")


def check_time_span(start: datetime | None, stop: datetime | None, names: tuple[str, str]) -> None:
    """Raise :class:`InvalidRequest` when both ends are given and ``start`` is after ``stop``."""
    if start is not None and stop is not None and start > stop:
        raise InvalidRequest(
            f"{names[0]} {start.isoformat()} is after {names[1]} {stop.isoformat()}"
        )
