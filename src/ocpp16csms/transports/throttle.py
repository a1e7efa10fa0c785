"""Backing off repeated authentication failures, per charge point id and per client address.

A password is checked with a deliberately slow hash; without a limit a client could still
guess as fast as the server hashes. :class:`AuthThrottle` keeps, in memory, the recent
failures of each charge point id and of each client address. Past a free allowance, each
further failure doubles the time before the next attempt is even checked (HTTP 429 with
``Retry-After`` meanwhile). The clock is injected, so the rules are testable without sleeping.

Two keys, because the threats differ (docs/security.md):

* per **id**, consecutive failures: one charge point guessed at from anywhere. A success for
  the id clears its record. A legitimate charge point with a stale password only delays
  itself.
* per **address**, the number of *different* ids that failed from it: one client guessing
  across many ids. Counting ids, not failures, keeps a site behind one NAT address working
  while one of its charge points retries with a stale password.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs

__all__ = ["AuthThrottle"]


@attrs.define
class _Failures:
    count: int = 0
    last: float = 0.0
    ids: set[str] = attrs.field(factory=set)


def _positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")


class AuthThrottle:
    """Exponential back-off of failed authentications; one per server (see the module doc).

    ``failures_per_id`` failures of one id, or failures for more than ``ids_per_address``
    different ids from one address, are free; the next waits ``base_delay`` seconds, each
    further one twice as long, up to ``max_delay``. A record is forgotten ``forget_after``
    seconds after its last failure; at most ``max_entries`` records are kept (the oldest go
    first), so memory stays bounded whatever clients send.
    """

    def __init__(
        self,
        *,
        failures_per_id: int = 5,
        ids_per_address: int = 20,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        forget_after: float = 900.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (
            ("failures_per_id", failures_per_id),
            ("ids_per_address", ids_per_address),
            ("max_entries", max_entries),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        for name, delay in (
            ("base_delay", base_delay),
            ("max_delay", max_delay),
            ("forget_after", forget_after),
        ):
            _positive(name, delay)
        self.failures_per_id = failures_per_id
        self.ids_per_address = ids_per_address
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.max_entries = max_entries
        self._clock = clock
        # Insertion order is recency order: a record moves to the end when it fails again.
        self._records: dict[tuple[str, str], _Failures] = {}

    def __len__(self) -> int:
        """How many records are kept now."""
        return len(self._records)

    def _record(self, key: tuple[str, str], now: float) -> _Failures | None:
        record = self._records.get(key)
        if record is not None and now - record.last > self.forget_after:
            del self._records[key]
            return None
        return record

    def _wait(self, failures: int, free: int, since: float, now: float) -> float:
        if failures <= free:
            return 0.0
        delay = min(self.max_delay, self.base_delay * (1 << min(failures - free - 1, 64)))
        return max(0.0, since + delay - now)

    def retry_after(self, charge_point_id: str, address: str | None) -> float:
        """Seconds before an attempt for ``charge_point_id`` from ``address`` is checked; 0 now."""
        now = self._clock()
        wait = 0.0
        by_id = self._record(("id", charge_point_id), now)
        if by_id is not None:
            wait = self._wait(by_id.count, self.failures_per_id, by_id.last, now)
        if address is not None:
            by_address = self._record(("address", address), now)
            if by_address is not None:
                wait = max(
                    wait,
                    self._wait(len(by_address.ids), self.ids_per_address, by_address.last, now),
                )
        return wait

    def failed(self, charge_point_id: str, address: str | None) -> None:
        """Count one failed authentication for ``charge_point_id`` from ``address``."""
        now = self._clock()
        by_id = self._touch(("id", charge_point_id), now)
        by_id.count += 1
        if address is not None:
            by_address = self._touch(("address", address), now)
            if len(by_address.ids) <= self.ids_per_address + 64:  # enough to count past the limit
                by_address.ids.add(charge_point_id)

    def succeeded(self, charge_point_id: str) -> None:
        """Clear the failures of ``charge_point_id`` (its address keeps its record)."""
        self._records.pop(("id", charge_point_id), None)

    def _touch(self, key: tuple[str, str], now: float) -> _Failures:
        record = self._record(key, now)
        if record is None:
            record = _Failures()
        else:
            del self._records[key]
        record.last = now
        self._records[key] = record
        while len(self._records) > self.max_entries:
            del self._records[next(iter(self._records))]
        return record
