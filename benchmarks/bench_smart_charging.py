"""Time :func:`ocpp16csms.smart_charging.composite_schedule` over a busy 7-day window.

50 installed profiles of every kind (Absolute, Relative, Recurring Daily and Weekly) and every
purpose, spread over a charge point with 4 connectors, 3 of them charging. Prints the time per
composite for one connector and for connector 0 (the charge point total). Target: < 5 ms.

Run: ``.venv/bin/python benchmarks/bench_smart_charging.py``
"""

from __future__ import annotations

import random
import statistics
import timeit
from collections import Counter
from datetime import UTC, datetime, timedelta

from ocpp16csms.datatypes import (
    ChargingProfile,
    ChargingSchedule,
    ChargingSchedulePeriod,
)
from ocpp16csms.enums import (
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    RecurrencyKindType,
)
from ocpp16csms.profiles.smart_charging import (
    InstalledProfile,
    TransactionInfo,
    composite_schedule,
)

START = datetime(2024, 3, 4, 8, 30, tzinfo=UTC)
WINDOW = 7 * 86_400
CONNECTORS = (1, 2, 3, 4)
TRANSACTIONS = {
    1: TransactionInfo(transaction_id=101, start=START - timedelta(minutes=20)),
    2: TransactionInfo(transaction_id=102, start=START - timedelta(hours=2)),
    3: TransactionInfo(transaction_id=None, start=START),
}


def _profile(rng: random.Random, pid: int, purpose: ChargingProfilePurposeType) -> ChargingProfile:
    kinds = [ChargingProfileKindType.ABSOLUTE, ChargingProfileKindType.RECURRING]
    if purpose is not ChargingProfilePurposeType.CHARGE_POINT_MAX_PROFILE:
        kinds.append(ChargingProfileKindType.RELATIVE)
    kind = rng.choice(kinds)
    recurrency = None
    span = 2 * 86_400
    if kind is ChargingProfileKindType.RECURRING:
        recurrency = rng.choice([RecurrencyKindType.DAILY, RecurrencyKindType.WEEKLY])
        span = 86_400 if recurrency is RecurrencyKindType.DAILY else 7 * 86_400
    offsets = sorted(rng.sample(range(900, span, 900), rng.randint(2, 9)))
    unit = rng.choice([ChargingRateUnitType.A, ChargingRateUnitType.W])
    scale = 230.0 * 3 if unit is ChargingRateUnitType.W else 1.0
    periods = tuple(
        ChargingSchedulePeriod(
            start_period=offset,
            limit=round(rng.randint(60, 320) / 10 * scale, 1),
            number_phases=rng.choice([None, 1, 3]),
        )
        for offset in [0, *offsets]
    )
    start_schedule = None
    if kind is not ChargingProfileKindType.RELATIVE:
        start_schedule = START + timedelta(seconds=rng.randint(-3 * 86_400, 3 * 86_400))
    return ChargingProfile(
        charging_profile_id=pid,
        stack_level=rng.randint(0, 8),
        charging_profile_purpose=purpose,
        charging_profile_kind=kind,
        recurrency_kind=recurrency,
        charging_schedule=ChargingSchedule(
            charging_rate_unit=unit,
            charging_schedule_period=periods,
            start_schedule=start_schedule,
            duration=rng.choice([None, span // 2, span]),
        ),
        valid_from=rng.choice([None, START - timedelta(days=1), START + timedelta(days=2)]),
        valid_to=rng.choice([None, START + timedelta(days=5)]),
    )


def installed_profiles(seed: int = 16) -> list[InstalledProfile]:
    """10 ChargePointMaxProfiles, 20 TxDefaultProfiles, 20 TxProfiles."""
    rng = random.Random(seed)
    out = []
    for pid in range(50):
        if pid < 10:
            purpose, connector = ChargingProfilePurposeType.CHARGE_POINT_MAX_PROFILE, 0
        elif pid < 30:
            purpose = ChargingProfilePurposeType.TX_DEFAULT_PROFILE
            connector = rng.choice([0, 0, *CONNECTORS])
        else:
            purpose = ChargingProfilePurposeType.TX_PROFILE
            connector = rng.choice([1, 2, 3])
        out.append(InstalledProfile(connector_id=connector, profile=_profile(rng, pid, purpose)))
    return out


def _ms_per_call(connector_id: int, profiles: list[InstalledProfile]) -> tuple[float, float, int]:
    """(best, median) ms per composite over 7 runs, and the number of periods it gives."""

    def run() -> ChargingSchedule | None:
        return composite_schedule(
            profiles,
            connector_id=connector_id,
            start=START,
            duration=WINDOW,
            charging_rate_unit=ChargingRateUnitType.A,
            transactions=TRANSACTIONS,
            connector_ids=CONNECTORS,
        )

    result = run()
    periods = 0 if result is None else len(result.charging_schedule_period)
    timer = timeit.Timer(run)
    number, _ = timer.autorange()
    runs = [t / number * 1000 for t in timer.repeat(repeat=7, number=number)]
    return min(runs), statistics.median(runs), periods


def main() -> None:
    profiles = installed_profiles()
    mix = Counter(
        (
            str(i.profile.charging_profile_purpose),
            str(i.profile.recurrency_kind or i.profile.charging_profile_kind),
        )
        for i in profiles
    )
    print(
        "profiles:",
        ", ".join(f"{n} {purpose}/{kind}" for (purpose, kind), n in sorted(mix.items())),
    )
    for connector_id in (1, 0):
        best, median, periods = _ms_per_call(connector_id, profiles)
        print(
            f"connector {connector_id}: best {best:.2f} ms, median {median:.2f} ms per composite "
            f"({periods} periods in the result)"
        )


if __name__ == "__main__":
    main()
