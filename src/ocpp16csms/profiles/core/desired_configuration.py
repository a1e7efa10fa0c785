"""Desired configuration: the keys a host wants each charge point to have (OCPP 1.6 §5.3, §5.8,
§9.1), brought about when the charge point boots, with the drift reported.

The host states values for every charge point, per model (BootNotification's
chargePointModel) or per charge point (the most specific wins). After an accepted
BootNotification, :class:`DesiredConfiguration` reads the charge point's configuration
(GetConfiguration), sends ChangeConfiguration for each key that differs, and keeps a
:class:`ConfigurationReport` of what each key came to: in sync, changed, changed but waiting
for a reboot, rejected, not supported, unknown to the charge point, read-only.
``docs/fleet-operations.md`` has the rules.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from enum import StrEnum

import attrs

from ..._logging import get_logger
from ...engine import CallContext, Engine
from ...enums import ConfigurationStatus, RegistrationStatus
from ...errors import CsmsError
from ...messages.core import BootNotificationRequest, BootNotificationResponse
from .service import SECRET_CONFIGURATION_KEYS, CoreService

__all__ = [
    "ConfigurationReport",
    "ConfigurationReportListener",
    "DesiredConfiguration",
    "KeyDrift",
    "KeyOutcome",
    "same_configuration_value",
]

log = get_logger("ocpp16csms.core")


class KeyOutcome(StrEnum):
    """What became of one desired key in a reconciliation."""

    IN_SYNC = "InSync"
    """The charge point already had the value: nothing sent."""
    CHANGED = "Changed"
    """ChangeConfiguration was Accepted."""
    REBOOT_REQUIRED = "RebootRequired"
    """Accepted, but takes effect after a reboot (the host decides when to Reset)."""
    REJECTED = "Rejected"
    """The charge point refused the value."""
    NOT_SUPPORTED = "NotSupported"
    """The charge point answered NotSupported for the key."""
    UNKNOWN_KEY = "UnknownKey"
    """GetConfiguration did not report the key: nothing sent."""
    READ_ONLY = "ReadOnly"
    """The charge point reports the key read-only, with another value: nothing sent."""
    FAILED = "Failed"
    """The ChangeConfiguration call failed (timeout, CALLERROR, connection lost)."""


_SETTLED = frozenset({KeyOutcome.IN_SYNC, KeyOutcome.CHANGED})


@attrs.frozen(kw_only=True)
class KeyDrift:
    """One desired key: the value wanted, the one reported before, and the outcome."""

    key: str
    wanted: str
    reported: str | None
    outcome: KeyOutcome
    detail: str | None = None


@attrs.frozen(kw_only=True)
class ConfigurationReport:
    """The result of one reconciliation of a charge point's configuration."""

    charge_point_id: str
    checked_at: datetime
    keys: tuple[KeyDrift, ...] = ()
    error: str | None = None
    """Set when the configuration could not be read at all (nothing was changed)."""

    @property
    def drift(self) -> tuple[KeyDrift, ...]:
        """The keys that are not (or not yet) as wanted."""
        return tuple(k for k in self.keys if k.outcome not in _SETTLED)

    @property
    def in_sync(self) -> bool:
        """Every desired key has its value now, with no reboot pending."""
        return self.error is None and not self.drift

    @property
    def reboot_required(self) -> bool:
        """Some accepted change takes effect only after a reboot."""
        return any(k.outcome is KeyOutcome.REBOOT_REQUIRED for k in self.keys)


ConfigurationReportListener = Callable[[ConfigurationReport], Awaitable[None] | None]
"""Called with every :class:`ConfigurationReport`; what it raises is logged."""


def same_configuration_value(wanted: str, reported: str | None) -> bool:
    """Whether a reported value already is the wanted one: equal once surrounding spaces are
    dropped; booleans regardless of case (``True`` is ``true``); integers by value (``060`` is
    ``60``); comma-separated lists item by item, spaces around items ignored."""
    if reported is None:
        return False
    a, b = wanted.strip(), reported.strip()
    if a == b:
        return True
    if a.casefold() in ("true", "false") and a.casefold() == b.casefold():
        return True
    try:
        return int(a) == int(b)
    except ValueError:
        pass
    if "," in a or "," in b:
        return [i.strip() for i in a.split(",")] == [i.strip() for i in b.split(",")]
    return False


def _check_values(values: Mapping[str, str]) -> dict[str, str]:
    checked = {}
    for key, value in values.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 50:
            raise ValueError(f"a configuration key is 1 to 50 characters (CiString50), got {key!r}")
        if not isinstance(value, str) or len(value) > 500:
            raise ValueError(f"{key}: a value is text of at most 500 characters, got {value!r}")
        if key.casefold() in SECRET_CONFIGURATION_KEYS:
            raise ValueError(
                f"{key} is write-only (its value is never reported): set it with "
                "cs.security.set_authorization_key"
            )
        checked[key] = value
    return checked


class DesiredConfiguration:
    """Keeps charge points' configuration as the host wants it; see the module docstring.

    Built over the central system (``engine``) and its Core service (``core``, for
    GetConfiguration and ChangeConfiguration, which keep the configuration store in step).
    Reconciles after every accepted BootNotification, in the central system's background tasks
    (``async with central_system:``); :meth:`reconcile` does it on demand.
    """

    def __init__(self, engine: Engine, core: CoreService) -> None:
        self._engine = engine
        self._core = core
        self._everyone: dict[str, str] = {}
        self._models: dict[str, dict[str, str]] = {}
        self._charge_points: dict[str, dict[str, str]] = {}
        self._reports: dict[str, ConfigurationReport] = {}
        self._listeners: list[ConfigurationReportListener] = []
        engine.after(BootNotificationRequest)(self._booted)

    def want(
        self,
        values: Mapping[str, str],
        *,
        charge_point_id: str | None = None,
        model: str | None = None,
    ) -> None:
        """Add ``values`` to what is wanted for one charge point, one model, or (neither
        given) every charge point. Raises ``ValueError`` for a key or value OCPP cannot carry,
        and for AuthorizationKey (write-only)."""
        if charge_point_id is not None and model is not None:
            raise ValueError("give a charge point or a model, not both")
        checked = _check_values(values)
        if charge_point_id is not None:
            self._charge_points.setdefault(charge_point_id, {}).update(checked)
        elif model is not None:
            self._models.setdefault(model, {}).update(checked)
        else:
            self._everyone.update(checked)

    def wanted(self, charge_point_id: str, model: str | None = None) -> dict[str, str]:
        """The values wanted for the charge point (of ``model``): the charge point's own over
        its model's over everyone's; keys compare case-insensitively (CiString50)."""
        merged: dict[str, tuple[str, str]] = {}
        layers = [self._everyone, self._models.get(model or "", {}) if model else {}]
        layers.append(self._charge_points.get(charge_point_id, {}))
        for layer in layers:
            for key, value in layer.items():
                merged[key.casefold()] = (key, value)
        return dict(merged.values())

    def report(self, charge_point_id: str) -> ConfigurationReport | None:
        """The newest report for the charge point (this process, since it started)."""
        return self._reports.get(charge_point_id)

    def subscribe(self, listener: ConfigurationReportListener) -> ConfigurationReportListener:
        """Call ``listener`` with every report (usable as a decorator)."""
        self._listeners.append(listener)
        return listener

    async def reconcile(
        self, charge_point_id: str, *, model: str | None = None
    ) -> ConfigurationReport:
        """Read the charge point's configuration and change what differs; the model, when not
        given, is the one of its last BootNotification in the charge point store."""
        if model is None:
            record = await self._core.charge_points.get(charge_point_id)
            model = (
                None if record is None or record.boot is None else record.boot.charge_point_model
            )
        wanted = self.wanted(charge_point_id, model)
        now = self._engine.clock()
        if not wanted:
            return await self._keep(
                ConfigurationReport(charge_point_id=charge_point_id, checked_at=now)
            )
        try:
            reported = await self._read(charge_point_id, wanted)
        except CsmsError as error:
            report = ConfigurationReport(
                charge_point_id=charge_point_id, checked_at=now, error=str(error)
            )
            return await self._keep(report)
        keys = []
        for key, value in wanted.items():
            known = reported.get(key.casefold())
            keys.append(await self._settle(charge_point_id, key, value, known))
        report = ConfigurationReport(
            charge_point_id=charge_point_id, checked_at=now, keys=tuple(keys)
        )
        return await self._keep(report)

    async def _read(
        self, charge_point_id: str, wanted: Mapping[str, str]
    ) -> dict[str, tuple[str | None, bool]]:
        """Key (case-folded) -> (value, readonly) as reported; missing keys asked by name."""
        answer = await self._core.get_configuration(charge_point_id)
        reported = {
            kv.key.casefold(): (kv.value, kv.readonly) for kv in answer.configuration_key or ()
        }
        # Some charge points leave keys out of a bare GetConfiguration; ask for those by name.
        missing = [key for key in wanted if key.casefold() not in reported]
        if missing:
            answer = await self._core.get_configuration(charge_point_id, missing)
            for kv in answer.configuration_key or ():
                reported[kv.key.casefold()] = (kv.value, kv.readonly)
        return reported

    async def _settle(
        self, charge_point_id: str, key: str, wanted: str, known: tuple[str | None, bool] | None
    ) -> KeyDrift:
        if known is None:
            return KeyDrift(key=key, wanted=wanted, reported=None, outcome=KeyOutcome.UNKNOWN_KEY)
        value, readonly = known
        if same_configuration_value(wanted, value):
            return KeyDrift(key=key, wanted=wanted, reported=value, outcome=KeyOutcome.IN_SYNC)
        if readonly:
            return KeyDrift(key=key, wanted=wanted, reported=value, outcome=KeyOutcome.READ_ONLY)
        try:
            answer = await self._core.change_configuration(charge_point_id, key, wanted)
        except CsmsError as error:
            return KeyDrift(
                key=key, wanted=wanted, reported=value, outcome=KeyOutcome.FAILED, detail=str(error)
            )
        outcome = {
            ConfigurationStatus.ACCEPTED: KeyOutcome.CHANGED,
            ConfigurationStatus.REBOOT_REQUIRED: KeyOutcome.REBOOT_REQUIRED,
            ConfigurationStatus.REJECTED: KeyOutcome.REJECTED,
            ConfigurationStatus.NOT_SUPPORTED: KeyOutcome.NOT_SUPPORTED,
        }.get(answer.status, KeyOutcome.FAILED)
        return KeyDrift(key=key, wanted=wanted, reported=value, outcome=outcome)

    async def _keep(self, report: ConfigurationReport) -> ConfigurationReport:
        self._reports[report.charge_point_id] = report
        cp = report.charge_point_id
        if report.error is not None:
            log.warning("[%s] configuration not read: %s", cp, report.error)
        elif report.drift:
            log.warning(
                "[%s] configuration drift: %s",
                cp,
                ", ".join(f"{k.key} {k.outcome.value}" for k in report.drift),
                extra={"charge_point_id": cp},
            )
        for listener in self._listeners:
            try:
                result = listener(report)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("[%s] configuration report listener %r failed", cp, listener)
        return report

    async def _booted(
        self,
        request: BootNotificationRequest,
        response: BootNotificationResponse,
        context: CallContext,
    ) -> None:
        if response.status is not RegistrationStatus.ACCEPTED:
            return
        cp, model = context.charge_point_id, request.charge_point_model
        if not self.wanted(cp, model):
            return
        if self._engine.is_running:
            # In the background: the answer has gone out, and the calls wait for replies.
            self._engine.spawn(self._reconcile_quietly, cp, model)
        else:
            await self._reconcile_quietly(cp, model)

    async def _reconcile_quietly(self, charge_point_id: str, model: str) -> None:
        try:
            await self.reconcile(charge_point_id, model=model)
        except Exception:
            log.exception("[%s] reconciling the configuration failed", charge_point_id)
