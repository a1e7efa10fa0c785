"""Checks made before a request is sent, shared by several features.

Each raises :class:`~ocpp16csms.errors.InvalidRequest` (nothing is sent) with a message that
names the field and what is wrong.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .errors import InvalidRequest
from .messages.base import Request
from .stores.records import ConfigurationStore

__all__ = [
    "FILE_TRANSFER_PROTOCOLS",
    "FILE_TRANSFER_SCHEMES",
    "build_request",
    "check_connector",
    "check_location",
    "check_retries",
    "check_time_span",
    "check_transfer_location",
    "number_of_connectors",
    "supported_file_transfer_schemes",
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
names in its FileTransferProtocolEnumType) when the charge point did not say which it supports;
anything else is refused before sending."""

FILE_TRANSFER_PROTOCOLS: Mapping[str, str] = {
    "FTP": "ftp",
    "FTPS": "ftps",
    "HTTP": "http",
    "HTTPS": "https",
    "SFTP": "sftp",
}
"""The values of the SupportedFileTransferProtocols configuration key (errata v4.0 3.90, and
SFTP, which later OCPP versions add) and the URI scheme each one means."""

_PROTOCOLS_KEY = "SupportedFileTransferProtocols"


async def supported_file_transfer_schemes(
    configuration: ConfigurationStore, charge_point_id: str
) -> frozenset[str] | None:
    """The URI schemes of the protocols the charge point reported in its
    SupportedFileTransferProtocols key (errata 3.90), or None when it did not report the key
    or it names none of :data:`FILE_TRANSFER_PROTOCOLS` (then nothing is known)."""
    entry = (await configuration.get(charge_point_id)).get(_PROTOCOLS_KEY)
    if entry is None or entry.value is None:
        return None
    # A comma-separated list (CSL); names compared case-insensitively, unknown ones skipped.
    schemes = frozenset(
        FILE_TRANSFER_PROTOCOLS[name]
        for name in (part.strip().upper() for part in entry.value.split(","))
        if name in FILE_TRANSFER_PROTOCOLS
    )
    return schemes or None


def check_location(
    location: str, field: str = "location", *, schemes: Collection[str] = FILE_TRANSFER_SCHEMES
) -> None:
    """Raise :class:`InvalidRequest` unless ``location`` is an absolute URI that a charge point
    can transfer a file with: a scheme of ``schemes`` (default :data:`FILE_TRANSFER_SCHEMES`),
    a host, no whitespace."""
    if not isinstance(location, str) or not location:
        raise InvalidRequest(f"{field} must be a non-empty URI")
    if any(c.isspace() or not c.isprintable() for c in location):
        raise InvalidRequest(f"{field} {location!r} contains whitespace or control characters")
    try:
        parts = urlsplit(location)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as error:
        raise InvalidRequest(f"{field} {location!r} is not a valid URI: {error}") from None
    if parts.scheme.lower() not in schemes:
        allowed = ", ".join(sorted(schemes))
        raise InvalidRequest(f"{field} {location!r} must use one of the schemes {allowed}")
    if not parts.hostname:
        raise InvalidRequest(f"{field} {location!r} names no host")


async def check_transfer_location(
    configuration: ConfigurationStore | None,
    charge_point_id: str,
    location: str,
    field: str = "location",
) -> None:
    """:func:`check_location` against the schemes the charge point supports: those of its
    SupportedFileTransferProtocols key when it reported one (errata 3.90), else
    :data:`FILE_TRANSFER_SCHEMES`."""
    supported = None
    if configuration is not None:
        supported = await supported_file_transfer_schemes(configuration, charge_point_id)
    if supported is None:
        check_location(location, field)
        return
    check_location(location, field)  # the general rule first: a URI with a transfer scheme
    try:
        check_location(location, field, schemes=supported)
    except InvalidRequest:
        allowed = ", ".join(sorted(supported))
        raise InvalidRequest(
            f"{field} {location!r}: {charge_point_id!r} supports only {allowed} "
            f"(its {_PROTOCOLS_KEY} configuration key)"
        ) from None


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
