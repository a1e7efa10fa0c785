"""The handshake step every adapter shares: throttle, look the charge point up, then decide."""

from __future__ import annotations

import functools

import anyio
import anyio.to_thread

from .._logging import get_logger
from ..central_system import CentralSystem
from .handshake import (
    HandshakeOptions,
    HandshakeRefused,
    Peer,
    charge_point_id_from_path,
    decide,
    password_check_needed,
)
from .throttle import AuthThrottle

__all__ = ["Admission", "report_refusal"]

log = get_logger("ocpp16csms.transports")


class Admission:
    """Admits upgrades for one adapter (one server or app): its throttle, its hashing pool."""

    def __init__(
        self,
        central_system: CentralSystem,
        options: HandshakeOptions,
        throttle: AuthThrottle | None = None,
    ) -> None:
        self.central_system = central_system
        self.options = options
        self.throttle = throttle if throttle is not None else AuthThrottle()
        self._limiter: anyio.CapacityLimiter | None = None

    def _hashing_pool(self) -> anyio.CapacityLimiter:
        # Made on first use, inside the event loop the adapter serves on.
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.options.password_check_threads)
        return self._limiter

    async def admit(self, peer: Peer) -> tuple[str, str | None]:
        """(charge point id, subprotocol) for an upgrade, or raise :class:`HandshakeRefused`.

        A throttled client is refused with 429 before anything is checked; a store failure
        or a lookup slower than ``store_timeout`` with 503 (logged), so the charge point
        retries later.
        """
        options = self.options
        charge_point_id = charge_point_id_from_path(peer.path, options)
        wait = self.throttle.retry_after(charge_point_id, peer.address)
        if wait > 0:
            raise HandshakeRefused(
                429,
                "too many failed authentications; try again later",
                "throttled",
                retry_after=wait,
            )
        timeout = self.central_system.options.store_timeout
        try:
            with anyio.fail_after(timeout):
                record = await self.central_system.stores.charge_points.get(charge_point_id)
        except TimeoutError:
            log.error("charge point store did not answer within %g s for %r", timeout, peer.path)
            raise HandshakeRefused(
                503, "try again later", "store_unavailable", retry_after=60
            ) from None
        except Exception:
            log.exception("charge point store failed during the handshake of %r", peer.path)
            raise HandshakeRefused(
                503, "try again later", "store_unavailable", retry_after=60
            ) from None
        # An unknown charge point meets the central system's ``unknown_charge_points`` policy
        # (:func:`~ocpp16csms.transports.handshake.unknown_charge_points_allowed`).
        policy = self.central_system.options.unknown_charge_points
        checked = password_check_needed(record, options, policy)
        check = functools.partial(decide, unknown_policy=policy)
        try:
            if checked:
                # Password hashing is deliberately slow: off the event loop, a few at a time.
                result = await anyio.to_thread.run_sync(
                    check, peer, record, options, limiter=self._hashing_pool()
                )
            else:
                result = check(peer, record, options)
        except HandshakeRefused as refused:
            if refused.status == 401:
                self.throttle.failed(charge_point_id, peer.address)
            raise
        if checked:
            self.throttle.succeeded(charge_point_id)
        return result


def report_refusal(central_system: CentralSystem, refused: HandshakeRefused) -> None:
    """Tell the central system's instrumentation, if any, that an upgrade was refused."""
    if central_system.instrumentation is not None:
        central_system.instrumentation.handshake_refused(refused.status, refused.cause)
