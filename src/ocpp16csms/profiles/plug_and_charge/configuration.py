"""The charge point's Plug & Charge configuration keys, and the service's own settings.

The OCA application note (§3) adds five 1.6 configuration keys, read and set with
GetConfiguration / ChangeConfiguration like any other: :class:`PncConfiguration` is their
typed view. :class:`PncSettings` tunes what :class:`~.service.PlugAndChargeService` does on its
own (renewal ahead of expiry, signing retries when the charge point has not said).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import attrs

from ...datatypes import KeyValue

__all__ = [
    "CENTRAL_CONTRACT_VALIDATION_ALLOWED",
    "CERT_SIGNING_REPEAT_TIMES",
    "CERT_SIGNING_WAIT_MINIMUM",
    "CONTRACT_VALIDATION_OFFLINE",
    "ISO15118_PNC_ENABLED",
    "PNC_CONFIGURATION_KEYS",
    "PncConfiguration",
    "PncSettings",
]

ISO15118_PNC_ENABLED = "ISO15118PnCEnabled"
"""boolean: the charge point offers Plug & Charge (ISO 15118 contract authorization)."""
CENTRAL_CONTRACT_VALIDATION_ALLOWED = "CentralContractValidationAllowed"
"""boolean: a contract the charge point cannot check itself may be sent in Authorize."""
CERT_SIGNING_WAIT_MINIMUM = "CertSigningWaitMinimum"
"""integer, seconds: the wait before a CSR is tried again, doubled on each repetition."""
CERT_SIGNING_REPEAT_TIMES = "CertSigningRepeatTimes"
"""integer: how often a CSR is tried again when no signed certificate came of it."""
CONTRACT_VALIDATION_OFFLINE = "ContractValidationOffline"
"""boolean: the charge point may validate a contract locally while offline."""

PNC_CONFIGURATION_KEYS = (
    ISO15118_PNC_ENABLED,
    CENTRAL_CONTRACT_VALIDATION_ALLOWED,
    CERT_SIGNING_WAIT_MINIMUM,
    CERT_SIGNING_REPEAT_TIMES,
    CONTRACT_VALIDATION_OFFLINE,
)
"""The five configuration keys of the application note, in :class:`PncConfiguration` order."""


def _optional_bool(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{attribute.name} must be True, False or None, got {value!r}")


def _optional_count(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{attribute.name} must be a whole number >= 0, got {value!r}")


def _parse_bool(text: str | None) -> bool | None:
    folded = (text or "").strip().casefold()
    return {"true": True, "false": False}.get(folded)


def _parse_count(text: str | None) -> int | None:
    stripped = (text or "").strip()
    return int(stripped) if stripped.isascii() and stripped.isdigit() else None


@attrs.frozen(kw_only=True)
class PncConfiguration:
    """The application note's configuration keys as typed values; None: unknown or unset.

    Built from what the configuration store holds (:meth:`from_keys`); given to
    ``change_pnc_configuration`` it names the keys to change (the fields that are not None).
    """

    iso15118_pnc_enabled: bool | None = attrs.field(default=None, validator=_optional_bool)
    central_contract_validation_allowed: bool | None = attrs.field(
        default=None, validator=_optional_bool
    )
    cert_signing_wait_minimum: int | None = attrs.field(default=None, validator=_optional_count)
    cert_signing_repeat_times: int | None = attrs.field(default=None, validator=_optional_count)
    contract_validation_offline: bool | None = attrs.field(default=None, validator=_optional_bool)

    @classmethod
    def from_keys(cls, keys: Mapping[str, KeyValue]) -> PncConfiguration:
        """Read the five keys (names compared without case, as CiString50) from a charge
        point's configuration; a value that does not parse counts as unknown."""
        by_name = {name.casefold(): entry.value for name, entry in keys.items()}

        def text(key: str) -> str | None:
            return by_name.get(key.casefold())

        return cls(
            iso15118_pnc_enabled=_parse_bool(text(ISO15118_PNC_ENABLED)),
            central_contract_validation_allowed=_parse_bool(
                text(CENTRAL_CONTRACT_VALIDATION_ALLOWED)
            ),
            cert_signing_wait_minimum=_parse_count(text(CERT_SIGNING_WAIT_MINIMUM)),
            cert_signing_repeat_times=_parse_count(text(CERT_SIGNING_REPEAT_TIMES)),
            contract_validation_offline=_parse_bool(text(CONTRACT_VALIDATION_OFFLINE)),
        )

    def as_keys(self) -> list[tuple[str, str]]:
        """The fields that are set, as (key, value text) pairs for ChangeConfiguration."""
        values: list[tuple[str, object]] = [
            (ISO15118_PNC_ENABLED, self.iso15118_pnc_enabled),
            (CENTRAL_CONTRACT_VALIDATION_ALLOWED, self.central_contract_validation_allowed),
            (CERT_SIGNING_WAIT_MINIMUM, self.cert_signing_wait_minimum),
            (CERT_SIGNING_REPEAT_TIMES, self.cert_signing_repeat_times),
            (CONTRACT_VALIDATION_OFFLINE, self.contract_validation_offline),
        ]
        return [
            (key, ("true" if value else "false") if isinstance(value, bool) else str(value))
            for key, value in values
            if value is not None
        ]


def _positive_span(_: object, attribute: attrs.Attribute[Any], value: timedelta) -> None:
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ValueError(f"{attribute.name} must be a positive timedelta, got {value!r}")


def _non_negative_seconds(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e9:
        raise ValueError(f"{attribute.name} must be a finite number of seconds >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class PncSettings:
    """What :class:`~.service.PlugAndChargeService` does on its own; checked when built."""

    renew_before: timedelta = attrs.field(default=timedelta(days=30), validator=_positive_span)
    """Ask for a new V2G certificate this long before the delivered one expires."""
    renewal_retry: timedelta = attrs.field(default=timedelta(days=1), validator=_positive_span)
    """After asking, wait this long for the renewal before asking again."""
    signing_wait_minimum: float = attrs.field(default=60.0, validator=_non_negative_seconds)
    """Seconds before a signing retry when the charge point's CertSigningWaitMinimum is unknown."""
    signing_repeat_times: int = attrs.field(default=3, validator=_optional_count)
    """Signing retries when the charge point's CertSigningRepeatTimes is unknown."""
