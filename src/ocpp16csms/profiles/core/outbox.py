"""The outbox: operations addressed to a charge point that is offline, delivered when it is back.

``await outbox.post(cp, request, expires_in=3600)`` keeps the request; it is sent at once when
the charge point is connected, else when it connects or sends an accepted BootNotification,
unless it expired first. Each entry ends Delivered (with the answer), Failed (a CALLERROR or a
refused request) or Expired, and listeners hear of it. Delivery is at least once: a call that
timed out or lost its connection stays queued and is sent again. docs/fleet-operations.md.
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import anyio
import attrs

from ..._logging import get_logger
from ...engine import CallContext, ChargePointConnected, Engine
from ...enums import RegistrationStatus
from ...errors import (
    CallTimeout,
    ChargePointNotAccepted,
    ChargePointNotConnected,
    ConnectionLost,
    CsmsError,
    QueueFull,
)
from ...messages.base import Direction, Request, Response
from ...messages.core import BootNotificationRequest, BootNotificationResponse

__all__ = [
    "MemoryOutboxStore",
    "Outbox",
    "OutboxEntry",
    "OutboxListener",
    "OutboxState",
    "OutboxStore",
]

log = get_logger("ocpp16csms.core")

# Outcomes that leave the entry queued: it may not have arrived, so it is sent again.
_TRY_AGAIN = (
    ChargePointNotConnected,
    ChargePointNotAccepted,
    ConnectionLost,
    CallTimeout,
    QueueFull,
)


class OutboxState(StrEnum):
    """Where an outbox entry is."""

    QUEUED = "Queued"
    DELIVERED = "Delivered"
    FAILED = "Failed"
    EXPIRED = "Expired"


@attrs.frozen(kw_only=True)
class OutboxEntry:
    """One request waiting for (or done with) delivery; ``response`` once Delivered, ``error``
    once Failed; times are the central system's clock."""

    entry_id: str = attrs.field(factory=lambda: secrets.token_hex(8))
    charge_point_id: str
    request: Request[Any]
    created_at: datetime
    expires_at: datetime
    state: OutboxState = OutboxState.QUEUED
    attempts: int = 0
    response: Response | None = None
    error: str | None = None
    updated_at: datetime | None = None


OutboxListener = Callable[[OutboxEntry], Awaitable[None] | None]
"""Called with an entry each time it reaches Delivered, Failed or Expired."""


@runtime_checkable
class OutboxStore(Protocol):
    """Outbox entries, kept until the host deletes them."""

    async def save(self, entry: OutboxEntry) -> None:
        """Keep ``entry``, replacing the one with the same ``entry_id``."""
        ...

    async def queued(self, charge_point_id: str) -> Sequence[OutboxEntry]:
        """The charge point's Queued entries, oldest first."""
        ...

    async def get(self, entry_id: str) -> OutboxEntry | None:
        """The entry with that id, or None."""
        ...


class MemoryOutboxStore:
    """:class:`OutboxStore` in memory."""

    def __init__(self) -> None:
        self._entries: dict[str, OutboxEntry] = {}

    async def save(self, entry: OutboxEntry) -> None:
        self._entries.pop(entry.entry_id, None)  # keep insertion order = order of creation
        self._entries[entry.entry_id] = entry

    async def queued(self, charge_point_id: str) -> Sequence[OutboxEntry]:
        return sorted(
            (
                e
                for e in self._entries.values()
                if e.charge_point_id == charge_point_id and e.state is OutboxState.QUEUED
            ),
            key=lambda e: e.created_at,
        )

    async def get(self, entry_id: str) -> OutboxEntry | None:
        return self._entries.get(entry_id)


class Outbox:
    """Delivers requests to charge points when they are reachable (see the module docstring).

    Entries for one charge point go out one after the other, oldest first. Reacting to
    connections needs the central system running (``async with central_system:``).
    """

    def __init__(
        self,
        engine: Engine,
        store: OutboxStore | None = None,
        *,
        default_expiry: float = 24 * 3600.0,
    ) -> None:
        if not default_expiry > 0:
            raise ValueError(f"default_expiry must be positive, got {default_expiry!r}")
        self._engine = engine
        self.store: OutboxStore = store if store is not None else MemoryOutboxStore()
        self.default_expiry = default_expiry
        self._listeners: list[OutboxListener] = []
        self._locks: dict[str, anyio.Lock] = {}
        engine.observe(self._observe)
        engine.after(BootNotificationRequest)(self._booted)

    def subscribe(self, listener: OutboxListener) -> OutboxListener:
        """Call ``listener`` with every entry that is delivered, failed or expired."""
        self._listeners.append(listener)
        return listener

    async def post(
        self,
        charge_point_id: str,
        request: Request[Any],
        *,
        expires_in: float | None = None,
    ) -> OutboxEntry:
        """Queue ``request`` for the charge point, valid for ``expires_in`` seconds (default
        ``default_expiry``); sent now if the charge point is connected (in the background when
        the central system runs, so this returns the entry as queued; its outcome comes to
        listeners and :meth:`entry`)."""
        if not isinstance(request, Request) or request.direction is not (
            Direction.CENTRAL_SYSTEM_TO_CHARGE_POINT
        ):
            raise TypeError(f"the outbox takes requests a central system sends, got {request!r}")
        valid_for = self.default_expiry if expires_in is None else expires_in
        if not valid_for > 0:
            raise ValueError(f"expires_in must be positive, got {expires_in!r}")
        now = self._engine.clock()
        entry = OutboxEntry(
            charge_point_id=charge_point_id,
            request=request,
            created_at=now,
            expires_at=now + timedelta(seconds=valid_for),
        )
        await self.store.save(entry)
        if self._engine.is_connected(charge_point_id):
            if not self._engine.is_running:
                await self.deliver(charge_point_id)
                return await self.store.get(entry.entry_id) or entry
            self._deliver_soon(charge_point_id)
        return entry

    async def entry(self, entry_id: str) -> OutboxEntry | None:
        """The entry as it is now."""
        return await self.store.get(entry_id)

    async def deliver(self, charge_point_id: str) -> list[OutboxEntry]:
        """Send the charge point's queued entries now, in order; return those that ended."""
        lock = self._locks.setdefault(charge_point_id, anyio.Lock())
        ended = []
        async with lock:
            for entry in await self.store.queued(charge_point_id):
                now = self._engine.clock()
                if now >= entry.expires_at:
                    entry = self._moved(entry, OutboxState.EXPIRED, now)
                else:
                    try:
                        response = await self._engine.call(charge_point_id, entry.request)
                    except _TRY_AGAIN as error:
                        unreachable = isinstance(
                            error, ChargePointNotConnected | ChargePointNotAccepted
                        )
                        tried = entry.attempts + (0 if unreachable else 1)
                        await self.store.save(attrs.evolve(entry, attempts=tried, error=str(error)))
                        if unreachable:
                            break  # the rest waits for the charge point too
                        continue
                    except CsmsError as error:
                        entry = attrs.evolve(
                            self._moved(entry, OutboxState.FAILED, now),
                            attempts=entry.attempts + 1,
                            error=str(error),
                        )
                    else:
                        entry = attrs.evolve(
                            self._moved(entry, OutboxState.DELIVERED, self._engine.clock()),
                            attempts=entry.attempts + 1,
                            response=response,
                            error=None,
                        )
                await self.store.save(entry)
                ended.append(entry)
                await self._tell(entry)
        return ended

    def _moved(self, entry: OutboxEntry, state: OutboxState, now: datetime) -> OutboxEntry:
        return attrs.evolve(entry, state=state, updated_at=now)

    async def _tell(self, entry: OutboxEntry) -> None:
        log.info(
            "[%s] outbox %s %s: %s",
            entry.charge_point_id,
            entry.request.action,
            entry.entry_id,
            entry.state.value,
            extra={"charge_point_id": entry.charge_point_id},
        )
        for listener in self._listeners:
            try:
                result = listener(entry)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("[%s] outbox listener %r failed", entry.charge_point_id, listener)

    def _deliver_soon(self, charge_point_id: str) -> None:
        # Never from where an event is emitted (the connection may not be served yet).
        if self._engine.is_running:
            self._engine.spawn(self._deliver_quietly, charge_point_id)

    async def _deliver_quietly(self, charge_point_id: str) -> None:
        try:
            await self.deliver(charge_point_id)
        except Exception:
            log.exception("[%s] outbox delivery failed", charge_point_id)

    def _observe(self, event: object) -> None:
        if isinstance(event, ChargePointConnected):
            self._deliver_soon(event.charge_point_id)

    def _booted(
        self,
        request: BootNotificationRequest,
        response: BootNotificationResponse,
        context: CallContext,
    ) -> None:
        if response.status is RegistrationStatus.ACCEPTED:
            self._deliver_soon(context.charge_point_id)
