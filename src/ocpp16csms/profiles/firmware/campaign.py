"""Firmware rollouts across a fleet (OCPP 1.6 §4.5, §5.19; whitepaper §5.19, §5.21).

A :class:`FirmwareCampaign` updates many charge points, a few at a time, and follows each one
through its FirmwareStatusNotifications (or SignedFirmwareStatusNotifications) to Installed.
Failed attempts are retried after a delay; charge points that are offline get the update when
they connect. Every change is written to a :class:`~.campaign_store.CampaignStore` and
reported to subscribers, so a host can show progress and resume after a restart.
``docs/fleet-operations.md`` has the rules.
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

import anyio
import attrs

from ..._logging import get_logger
from ...engine import ChargePointConnected, Engine, Exchange
from ...enums import FirmwareStatus, FirmwareStatusEnumType, RegistrationStatus
from ...errors import (
    CallTimeout,
    ChargePointNotAccepted,
    ChargePointNotConnected,
    ConnectionLost,
    InvalidRequest,
    QueueFull,
)
from ...messages.base import Direction
from ...messages.core import BootNotificationRequest, BootNotificationResponse
from ...messages.firmware import FirmwareStatusNotificationRequest
from ...messages.security import SignedFirmwareStatusNotificationRequest
from .campaign_store import (
    TERMINAL_STATES,
    CampaignEntry,
    CampaignState,
    CampaignStore,
    MemoryCampaignStore,
)

__all__ = [
    "FAILURE_STATUSES",
    "CampaignListener",
    "CampaignProgress",
    "CampaignSender",
    "FirmwareCampaign",
]

log = get_logger("ocpp16csms.firmware")

CampaignSender = Callable[[str], Awaitable[object]]
"""``async def send(charge_point_id)``: send the update (UpdateFirmware or SignedUpdateFirmware)
and return the charge point's answer; called once per attempt, so it may build a fresh,
expiring location each time."""

FAILURE_STATUSES = frozenset(
    {
        FirmwareStatus.DOWNLOAD_FAILED.value,
        FirmwareStatus.INSTALLATION_FAILED.value,
        FirmwareStatusEnumType.INSTALL_VERIFICATION_FAILED.value,
        FirmwareStatusEnumType.INVALID_SIGNATURE.value,
    }
)
"""Firmware statuses that end an attempt as failed (retried while attempts remain)."""

# A signed update refused for its certificate will be refused again: no retry.
_FINAL_REFUSALS = frozenset({"InvalidCertificate", "RevokedCertificate"})
_ACCEPTED = frozenset({"Accepted", "AcceptedCanceled"})


@attrs.frozen(kw_only=True)
class CampaignProgress:
    """Event: one charge point's entry changed (``previous`` is None for a new entry).

    ``counts`` is the number of charge points in each state after the change.
    """

    campaign_id: str
    charge_point_id: str
    previous: CampaignState | None
    entry: CampaignEntry
    counts: Mapping[CampaignState, int]


CampaignListener = Callable[[CampaignProgress], Awaitable[None] | None]
"""Called with every :class:`CampaignProgress`; what it raises is logged."""


def _positive(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not value > 0:
        raise ValueError(f"{attribute.name} must be positive, got {value!r}")


@attrs.frozen(kw_only=True)
class _Settings:
    concurrency: int = attrs.field(validator=_positive)
    max_attempts: int = attrs.field(validator=_positive)
    retry_delay: float = attrs.field(validator=_positive)
    attempt_timeout: float = attrs.field(validator=_positive)
    poll_interval: float = attrs.field(validator=_positive)


class FirmwareCampaign:
    """Updates ``charge_points`` with ``send``, at most ``concurrency`` at a time.

    A slot is held from the accepted update to Installed or to the attempt's failure:
    a status of :data:`FAILURE_STATUSES`, a refusal in the answer, a CALLERROR, or no
    Installed within ``attempt_timeout`` seconds. A failed attempt is tried again
    ``retry_delay`` seconds later, up to ``max_attempts``. A charge point that is not
    connected (or not accepted) is :attr:`~CampaignState.OFFLINE` until it connects or sends
    an accepted BootNotification. With ``firmware_version``, a BootNotification reporting it
    counts as Installed (so a charge point that boots with it before its turn is not sent
    the update).

    Call :meth:`start` inside ``async with central_system:`` (the campaign reacts to
    connections in the central system's background tasks and polls every ``poll_interval``
    seconds for due retries and timed-out attempts). Times come from the central system's clock.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        campaign_id: str,
        charge_points: Iterable[str],
        send: CampaignSender,
        store: CampaignStore | None = None,
        concurrency: int = 10,
        max_attempts: int = 3,
        retry_delay: float = 600.0,
        attempt_timeout: float = 3600.0,
        poll_interval: float = 30.0,
        firmware_version: str | None = None,
    ) -> None:
        if not campaign_id:
            raise ValueError("a campaign needs a non-empty campaign_id")
        if not callable(send):
            raise TypeError(f"send must be an async function of the charge point id, got {send!r}")
        self._settings = _Settings(
            concurrency=concurrency,
            max_attempts=max_attempts,
            retry_delay=retry_delay,
            attempt_timeout=attempt_timeout,
            poll_interval=poll_interval,
        )
        self._engine = engine
        self.campaign_id = campaign_id
        self.firmware_version = firmware_version
        self._order = list(dict.fromkeys(charge_points))
        self._send = send
        self._store: CampaignStore = store if store is not None else MemoryCampaignStore()
        self._entries: dict[str, CampaignEntry] = {}
        self._sending: set[str] = set()
        self._early: dict[str, str] = {}
        self._listeners: list[CampaignListener] = []
        self._lock = anyio.Lock()
        self._started = False
        self._closed = False
        self.finished = anyio.Event()
        """Set once every charge point is in a terminal state."""

    # -- reading -------------------------------------------------------------------------------

    @property
    def entries(self) -> tuple[CampaignEntry, ...]:
        """Every charge point's entry, in the campaign's order."""
        return tuple(self._entries[cp] for cp in self._order if cp in self._entries)

    def entry(self, charge_point_id: str) -> CampaignEntry | None:
        """The charge point's entry, or None when it is not in the campaign."""
        return self._entries.get(charge_point_id)

    def counts(self) -> dict[CampaignState, int]:
        """How many charge points are in each state (every state is a key)."""
        counted = Counter(entry.state for entry in self._entries.values())
        return {state: counted.get(state, 0) for state in CampaignState}

    def subscribe(self, listener: CampaignListener) -> CampaignListener:
        """Call ``listener`` with every :class:`CampaignProgress` (usable as a decorator)."""
        if not callable(listener):
            raise TypeError(f"a listener must be callable, got {listener!r}")
        self._listeners.append(listener)
        return listener

    # -- running -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the campaign's entries from the store, add the new charge points as Pending,
        start reacting to the central system, and send the first updates."""
        if self._started:
            raise RuntimeError(f"campaign {self.campaign_id!r} was already started")
        self._started = True
        for entry in await self._store.entries(self.campaign_id):
            self._entries[entry.charge_point_id] = entry
            if entry.charge_point_id not in self._order:
                self._order.append(entry.charge_point_id)
        now = self._engine.clock()
        for cp in self._order:
            if cp not in self._entries:
                await self._change(
                    CampaignEntry(
                        campaign_id=self.campaign_id,
                        charge_point_id=cp,
                        state=CampaignState.PENDING,
                        updated_at=now,
                    )
                )
        self._check_finished()
        self._engine.observe(self._observe)
        if self._engine.is_running:
            self._engine.add_periodic(self._settings.poll_interval, self.poll)
        else:
            log.warning(
                "campaign %s started outside `async with central_system:`; call poll() yourself",
                self.campaign_id,
            )
        await self.poll()

    def close(self) -> None:
        """Stop sending and reacting (the entries stay in the store, to resume later)."""
        self._closed = True

    async def cancel(self, charge_point_id: str) -> None:
        """Take a charge point out of the campaign (an update it already has goes on)."""
        async with self._lock:
            entry = self._entries.get(charge_point_id)
            if entry is not None and entry.state not in TERMINAL_STATES:
                await self._change(self._moved(entry, CampaignState.CANCELLED))

    async def poll(self) -> None:
        """Fail attempts that timed out, then send to the charge points that are due, as far
        as the concurrency limit allows. Runs periodically; safe to call at any time."""
        if self._closed or not self._started:
            return
        async with self._lock:
            now = self._engine.clock()
            timeout = timedelta(seconds=self._settings.attempt_timeout)
            for entry in list(self._entries.values()):
                started = entry.attempt_started_at
                if entry.state is CampaignState.UPDATING and started and now >= started + timeout:
                    waited = f"no Installed within {self._settings.attempt_timeout:g} s"
                    await self._change(self._failed_attempt(entry, waited))
            busy = len(self._sending) + sum(
                e.state is CampaignState.UPDATING for e in self._entries.values()
            )
            chosen: list[str] = []
            for cp in self._order:
                if busy + len(chosen) >= self._settings.concurrency:
                    break
                candidate = self._entries.get(cp)
                if candidate is not None and cp not in self._sending and self._due(candidate, now):
                    chosen.append(cp)
            self._sending.update(chosen)
        if chosen:
            async with anyio.create_task_group() as group:
                for cp in chosen:
                    group.start_soon(self._attempt, cp)

    def _due(self, entry: CampaignEntry, now: Any) -> bool:
        if entry.state is CampaignState.PENDING:
            return True
        if entry.state is CampaignState.RETRY_SCHEDULED:
            return entry.next_attempt_at is None or entry.next_attempt_at <= now
        return entry.state is CampaignState.OFFLINE and self._engine.is_connected(
            entry.charge_point_id
        )

    async def _attempt(self, charge_point_id: str) -> None:
        try:
            answer: object = None
            failure: Exception | None = None
            try:
                answer = await self._send(charge_point_id)
            except QueueFull:
                return  # not sent: the next poll tries again
            except Exception as error:
                failure = error
            async with self._lock:
                entry = self._entries[charge_point_id]
                if entry.state in TERMINAL_STATES:
                    return  # cancelled, or found installed, while the update was on its way
                await self._change(self._after_send(entry, answer, failure))
                early = self._early.pop(charge_point_id, None)
                if early is not None and self._entries[charge_point_id].state is (
                    CampaignState.UPDATING
                ):
                    await self._apply_status(charge_point_id, early)
        finally:
            self._sending.discard(charge_point_id)
            self._early.pop(charge_point_id, None)
        self._poll_soon()

    def _after_send(
        self, entry: CampaignEntry, answer: object, failure: Exception | None
    ) -> CampaignEntry:
        """The entry once ``send`` returned ``answer`` or raised ``failure``."""
        if isinstance(failure, ChargePointNotConnected | ChargePointNotAccepted):
            return self._moved(entry, CampaignState.OFFLINE, error=str(failure))
        if failure is not None:
            entry = self._tried(entry)
        if isinstance(failure, CallTimeout | ConnectionLost):
            # It may have arrived: the attempt counts, and the update goes again when it is back.
            if entry.attempts >= self._settings.max_attempts:
                return self._moved(entry, CampaignState.FAILED, error=str(failure))
            return self._moved(entry, CampaignState.OFFLINE, error=str(failure))
        if isinstance(failure, InvalidRequest):
            return self._moved(entry, CampaignState.FAILED, error=str(failure))
        if failure is not None:
            log.warning("[%s] campaign %s: %s", entry.charge_point_id, self.campaign_id, failure)
            return self._failed_attempt(entry, str(failure))
        entry = self._tried(entry)
        status = getattr(getattr(answer, "status", None), "value", None)
        if status is not None and status not in _ACCEPTED:
            refused = f"the charge point answered {status}"
            if status in _FINAL_REFUSALS:
                return self._moved(entry, CampaignState.FAILED, error=refused)
            return self._failed_attempt(entry, refused)
        return attrs.evolve(
            self._moved(entry, CampaignState.UPDATING),
            attempt_started_at=self._engine.clock(),
            next_attempt_at=None,
        )

    # -- reacting to the central system ------------------------------------------------------

    async def _observe(self, event: object) -> None:
        if self._closed:
            return
        if isinstance(event, ChargePointConnected):
            entry = self._entries.get(event.charge_point_id)
            if entry is not None and entry.state is CampaignState.OFFLINE:
                self._poll_soon()
            return
        if not (
            isinstance(event, Exchange)
            and event.direction is Direction.CHARGE_POINT_TO_CENTRAL_SYSTEM
            and event.response is not None
        ):
            return
        entry = self._entries.get(event.charge_point_id)
        if entry is None or entry.state in TERMINAL_STATES:
            return
        request = event.request
        if isinstance(request, BootNotificationRequest):
            await self._booted(entry, request, event.response)
        elif isinstance(
            request, FirmwareStatusNotificationRequest | SignedFirmwareStatusNotificationRequest
        ):
            await self._reported(entry, str(getattr(request.status, "value", request.status)))

    async def _booted(
        self, entry: CampaignEntry, request: BootNotificationRequest, response: object
    ) -> None:
        if not (
            isinstance(response, BootNotificationResponse)
            and response.status is RegistrationStatus.ACCEPTED
        ):
            return
        if self.firmware_version is not None and request.firmware_version == self.firmware_version:
            async with self._lock:
                entry = self._entries[entry.charge_point_id]
                if entry.state not in TERMINAL_STATES:
                    await self._change(self._moved(entry, CampaignState.INSTALLED))
            self._poll_soon()
        elif entry.state is CampaignState.OFFLINE:
            self._poll_soon()

    async def _reported(self, entry: CampaignEntry, status: str) -> None:
        cp = entry.charge_point_id
        async with self._lock:
            if cp in self._sending:
                # The status overtook the answer to our update: applied once it is in.
                self._early[cp] = status
                return
            await self._apply_status(cp, status)
        self._poll_soon()

    async def _apply_status(self, charge_point_id: str, status: str) -> None:
        entry = self._entries[charge_point_id]
        if entry.state in TERMINAL_STATES or entry.state is CampaignState.PENDING:
            return  # nothing of ours is under way
        entry = attrs.evolve(entry, last_status=status)
        if status == FirmwareStatus.INSTALLED.value:
            entry = self._moved(entry, CampaignState.INSTALLED)
        elif status in FAILURE_STATUSES:
            entry = self._failed_attempt(entry, f"the charge point reported {status}")
        elif status != FirmwareStatus.IDLE.value and entry.state is not CampaignState.UPDATING:
            # Progress (the charge point's own retry of an attempt given up on, say): it holds
            # a slot again. Idle only answers a TriggerMessage and changes nothing.
            entry = attrs.evolve(
                self._moved(entry, CampaignState.UPDATING),
                attempt_started_at=self._engine.clock(),
            )
        await self._change(entry)

    def _poll_soon(self) -> None:
        # Observers run where the central system emits (even before a connection is served):
        # a call from there could wait for itself, so the poll runs in the background.
        if self._engine.is_running:
            self._engine.spawn(self.poll)

    # -- state changes ---------------------------------------------------------------------------

    def _tried(self, entry: CampaignEntry) -> CampaignEntry:
        return attrs.evolve(entry, attempts=entry.attempts + 1)

    def _moved(
        self, entry: CampaignEntry, state: CampaignState, *, error: str | None = None
    ) -> CampaignEntry:
        return attrs.evolve(entry, state=state, error=error, updated_at=self._engine.clock())

    def _failed_attempt(self, entry: CampaignEntry, error: str) -> CampaignEntry:
        if entry.attempts >= self._settings.max_attempts:
            return attrs.evolve(self._moved(entry, CampaignState.FAILED, error=error))
        due = self._engine.clock() + timedelta(seconds=self._settings.retry_delay)
        return attrs.evolve(
            self._moved(entry, CampaignState.RETRY_SCHEDULED, error=error),
            next_attempt_at=due,
            attempt_started_at=None,
        )

    async def _change(self, entry: CampaignEntry) -> None:
        previous = self._entries.get(entry.charge_point_id)
        await self._store.save(entry)
        self._entries[entry.charge_point_id] = entry
        log.info(
            "[%s] campaign %s: %s",
            entry.charge_point_id,
            self.campaign_id,
            entry.state.value if entry.error is None else f"{entry.state.value} ({entry.error})",
            extra={"charge_point_id": entry.charge_point_id},
        )
        progress = CampaignProgress(
            campaign_id=self.campaign_id,
            charge_point_id=entry.charge_point_id,
            previous=None if previous is None else previous.state,
            entry=entry,
            counts=self.counts(),
        )
        for listener in self._listeners:
            try:
                result = listener(progress)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("campaign %s: listener %r failed", self.campaign_id, listener)
        self._check_finished()

    def _check_finished(self) -> None:
        if self._entries and all(e.state in TERMINAL_STATES for e in self._entries.values()):
            self.finished.set()
