"""Local list diffing and planning (§5.15) at 100,000 entries with 1% changed.

Run: ``python benchmarks/bench_local_list.py``. Prints the best and median of several runs, in
milliseconds, for diff_local_list and plan_local_list_update (target: under 200 ms each).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from ocpp16csms.datatypes import (
    AuthorizationData,
    IdTagInfo,
)
from ocpp16csms.enums import AuthorizationStatus
from ocpp16csms.profiles.local_auth_list import (
    diff_local_list,
    plan_local_list_update,
)

SIZE = 100_000
CHANGED = SIZE // 100  # a third each: new info, added, removed
RUNS = 7


def info(i: int, status: AuthorizationStatus) -> IdTagInfo:
    return IdTagInfo(
        status=status,
        expiry_date=datetime(2030, 1, 1 + i % 28, tzinfo=UTC),
        parent_id_tag=f"GROUP{i % 100}",
    )


def lists() -> tuple[list[AuthorizationData], list[AuthorizationData]]:
    accepted = AuthorizationStatus.ACCEPTED
    acknowledged = [
        AuthorizationData(id_tag=f"TAG{i:08d}", id_tag_info=info(i, accepted)) for i in range(SIZE)
    ]
    third = CHANGED // 3
    removed = set(range(0, third * 7, 7))
    blocked = set(range(3, third * 7, 7))
    # Separate objects, as a host would load them from its database, so that equality is
    # really compared rather than short-cut by identity.
    desired = [
        AuthorizationData(
            id_tag=f"tag{i:08d}" if i % 2 else f"TAG{i:08d}",  # case alone is no change
            id_tag_info=info(i, AuthorizationStatus.BLOCKED if i in blocked else accepted),
        )
        for i in range(SIZE)
        if i not in removed
    ]
    desired += [
        AuthorizationData(id_tag=f"NEW{i:08d}", id_tag_info=info(i, accepted))
        for i in range(CHANGED - 2 * third)
    ]
    return acknowledged, desired


def timed(label: str, fn: Callable[[], object]) -> None:
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    print(f"{label}: best {min(samples):.1f} ms, median {statistics.median(samples):.1f} ms")


def main() -> None:
    acknowledged, desired = lists()
    diff = diff_local_list(acknowledged, desired)
    plan = plan_local_list_update(
        acknowledged=acknowledged,
        acknowledged_version=41,
        desired=desired,
        send_local_list_max_length=500,
        charge_point_version=41,
    )
    print(
        f"{len(acknowledged)} acknowledged, {len(desired)} desired, {len(diff)} in the diff; "
        f"plan: {plan.kind} in {len(plan.requests)} requests to version {plan.final_version}"
    )
    timed("diff_local_list", lambda: diff_local_list(acknowledged, desired))
    timed(
        "plan_local_list_update (Differential)",
        lambda: plan_local_list_update(
            acknowledged=acknowledged,
            acknowledged_version=41,
            desired=desired,
            send_local_list_max_length=500,
            local_auth_list_max_length=200_000,
            charge_point_version=41,
        ),
    )
    timed(
        "plan_local_list_update (Full, versions differ)",
        lambda: plan_local_list_update(
            acknowledged=acknowledged,
            acknowledged_version=41,
            desired=desired,
            send_local_list_max_length=500,
            local_auth_list_max_length=200_000,
            charge_point_version=40,
        ),
    )


if __name__ == "__main__":
    main()
