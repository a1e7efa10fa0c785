"""Connections whose frames the host pushes in: :meth:`CentralSystem.attach`.

``serve`` runs a receive loop over a :class:`~ocpp16csms.connection.Connection` and answers
each CALL in a task of its own. A host whose WebSocket server calls back once per message
(or that runs its own read loop) gives :meth:`~ocpp16csms.CentralSystem.attach` only the
way out, a :class:`~ocpp16csms.connection.FrameSender`, and pushes each frame in with
:meth:`AttachedConnection.receive`, which answers a CALL before it returns: no task, no queue
and no trip through the event loop between the frame and its answer. Everything else is
``serve``'s: the same session, checks, handlers, deadlines, hooks, events and logging
(docs/central-system.md, "Pushing frames in").
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Protocol

from ._driver import Driver
from .session import CallReceived

__all__ = ["AttachedConnection"]


class _Link(Protocol):
    """What the central system keeps of a live connection (its ``_Link``)."""

    @property
    def charge_point_id(self) -> str: ...

    @property
    def driver(self) -> Driver: ...

    def call_handler(self) -> Callable[[CallReceived], Awaitable[object]]: ...


class AttachedConnection:
    """One charge point connection whose frames the host pushes in.

    Made by :meth:`CentralSystem.attach <ocpp16csms.CentralSystem.attach>`, valid inside its
    ``async with`` block.
    """

    def __init__(self, link: _Link) -> None:
        self._link = link
        self._on_call = link.call_handler()
        # receive() itself, bound per connection: the driver's feed is called at once, one
        # coroutine less per frame (the method below says what it does, and is the same).
        self.receive = functools.partial(link.driver.feed, self._on_call)  # type: ignore[method-assign]

    @property
    def charge_point_id(self) -> str:
        """The charge point this connection is from."""
        return self._link.charge_point_id

    @property
    def closed(self) -> bool:
        """Whether the central system has let go of this connection: the block ended, a newer
        connection replaced it, or ``disconnect``/``aclose`` closed it (the sender was told
        to close). Frames pushed in after that are dropped."""
        return self._link.driver.closed

    async def receive(self, text: str | bytes) -> None:
        """Handle one frame from the charge point, in the caller's task.

        A CALL is answered before this returns (its after hooks run too); an answer to one
        of our calls wakes its caller. Whatever the frame holds, the charge point gets what
        OCPP-J says it gets and nothing is raised for it; a frame after :attr:`closed` is
        dropped. The sender raising :class:`~ocpp16csms.TransportClosed` closes this
        connection; anything else it raises propagates. A handler that waits for the same
        charge point's answer to a call needs the next frame read meanwhile: push frames
        from a task per frame then (or run such work with ``CentralSystem.spawn``, as the
        shipped features do).
        """
        await self._link.driver.feed(self._on_call, text)
