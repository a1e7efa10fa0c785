"""Work run in separate processes against one PostgreSQL database (spawned by the tests).

:func:`race` is one process of ``test_postgresql_concurrency.py``: it races the others on the
same transaction starts, reservation, local lists, charging profiles, configuration, meter
values, ended-unconfirmed marks and stops, unmatched stops and installed Plug & Charge
certificates, and reports what its calls returned. :func:`main` is the writer that
``test_postgresql_durability.py`` kills with SIGKILL: it starts transactions and appends, only
after each start returned, a line to a file ("acknowledged"). Both take plain, picklable
arguments and import the library only when they run.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["BASE", "MARKED", "main", "race", "seed_start", "shared_start", "writer_start"]

BASE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

SHARED_STARTS = 25
OWN_STARTS = 15
RESERVATION_INCREMENTS = 10
LOCAL_LIST_SAVES = 8
PROFILES_EACH = 6
METER_VALUES = 12
MARKED = 8
WORKERS_STOPPING = 2  # the worker that also stops the marked transactions
UNMATCHED_STOPS = 10
CERTIFICATE_BATCH = 15
CERTIFICATE_REPLACEMENTS = 6


def seed_start(n: int) -> Any:
    """The ``n``-th transaction started before the race, which the processes mark and stop."""
    from ocpp16csms.stores import TransactionStart

    return TransactionStart(
        charge_point_id="CPU",
        connector_id=1 + n,
        id_tag="Seeded",
        meter_start=0,
        timestamp=BASE,
    )


def shared_start(n: int) -> Any:
    """The ``n``-th StartTransaction every racing process sends (the same in each: retries)."""
    from ocpp16csms.stores import TransactionStart

    return TransactionStart(
        charge_point_id=f"CP{n % 5}",
        connector_id=1 + n % 2,
        id_tag=f"Tag{n}" if n % 3 else f"TAG{n}".lower(),
        meter_start=1000 + n,
        timestamp=BASE + timedelta(seconds=n),
    )


def _own_start(worker: int, n: int) -> Any:
    from ocpp16csms.stores import TransactionStart

    return TransactionStart(
        charge_point_id=f"W{worker}",
        connector_id=1,
        id_tag="Own",
        meter_start=n,
        timestamp=BASE + timedelta(minutes=n),
    )


def race(dsn: str, worker: int, start_at: float) -> dict[str, Any]:
    """One racing process; returns what its calls answered."""
    import anyio

    backend = "trio" if worker % 2 else "asyncio"
    result: dict[str, Any] = anyio.run(_race, dsn, worker, start_at, backend=backend)
    result["backend"] = backend
    return result


async def _race(dsn: str, worker: int, start_at: float) -> dict[str, Any]:
    import anyio
    import attrs

    from ocpp16csms.datatypes import (
        AuthorizationData,
        ChargingProfile,
        ChargingSchedule,
        ChargingSchedulePeriod,
        IdTagInfo,
        KeyValue,
        MeterValue,
        SampledValue,
    )
    from ocpp16csms.enums import (
        AuthorizationStatus,
        ChargingProfileKindType,
        ChargingProfilePurposeType,
        ChargingRateUnitType,
        HashAlgorithm,
    )
    from ocpp16csms.profiles.local_auth_list import LocalListState
    from ocpp16csms.profiles.plug_and_charge import (
        CertificateHashData,
        GetCertificateIdUse,
        InstalledCertificate,
    )
    from ocpp16csms.profiles.smart_charging import InstalledChargingProfile
    from ocpp16csms.stores import (
        TransactionStop,
        UnconfirmedEnd,
        UnconfirmedEndCause,
        UnmatchedStop,
        UnmatchedStopCause,
    )
    from ocpp16csms.stores.postgresql import postgresql_stores

    def profile(profile_id: int, connector: int, stack_level: int) -> InstalledChargingProfile:
        return InstalledChargingProfile(
            charge_point_id="CPX",
            connector_id=connector,
            profile=ChargingProfile(
                charging_profile_id=profile_id,
                stack_level=stack_level,
                charging_profile_purpose=ChargingProfilePurposeType.TX_DEFAULT_PROFILE,
                charging_profile_kind=ChargingProfileKindType.RELATIVE,
                charging_schedule=ChargingSchedule(
                    charging_rate_unit=ChargingRateUnitType.A,
                    charging_schedule_period=(ChargingSchedulePeriod(start_period=0, limit=16),),
                ),
            ),
        )

    def local_list(version: int) -> LocalListState:
        tags = [f"W{worker}V{version}T{i}" for i in range(version % 4 + 1)]
        return LocalListState(
            version=version,
            entries=tuple(
                AuthorizationData(
                    id_tag=tag, id_tag_info=IdTagInfo(status=AuthorizationStatus.ACCEPTED)
                )
                for tag in tags
            ),
        )

    out: dict[str, Any] = {
        "shared": {},
        "own": {},
        "cas_wins": 0,
        "removed_shared_slot": [],
        "meter_added": 0,
        "marks": {},
        "unmatched_added": 0,
        "certificate_mixes": 0,
    }
    meter_batch = [
        MeterValue(
            timestamp=BASE + timedelta(seconds=i), sampled_value=(SampledValue(value=str(i)),)
        )
        for i in range(METER_VALUES)
    ]
    async with postgresql_stores(dsn, pool_size=4) as stores:
        reservations = stores.require("reservations")
        local_lists = stores.require("local_lists")
        profiles = stores.require("charging_profiles")
        # The seeded transactions' ids: a start retry finds each, whatever its state by now.
        seeded = [
            (await stores.transactions.start(seed_start(n)))[0].transaction_id
            for n in range(MARKED)
        ]
        await anyio.sleep(max(0.0, start_at - time.time()))

        async def starts() -> None:
            order = list(range(SHARED_STARTS))
            if worker % 2:
                order.reverse()  # meet the others from both ends
            for n in order:
                record, created = await stores.transactions.start(shared_start(n))
                out["shared"][n] = [record.transaction_id, created]
            for n in range(OWN_STARTS):
                record, created = await stores.transactions.start(_own_start(worker, n))
                out["own"][n] = [record.transaction_id, created]

        async def increments() -> None:
            for _ in range(RESERVATION_INCREMENTS):
                while True:
                    current = await reservations.get("CPR", 1)
                    counted = attrs.evolve(current, transaction_id=current.transaction_id + 1)
                    if await reservations.save_if_unchanged(current, counted):
                        out["cas_wins"] += 1
                        break

        async def lists() -> None:
            for version in range(1, LOCAL_LIST_SAVES + 1):
                await local_lists.save(f"W{worker}", local_list(version))
                await local_lists.save("SHARED", local_list(version))

        async def installs() -> None:
            for i in range(PROFILES_EACH):
                # Own slots (connector = worker + 1): all must stay.
                await profiles.install(profile(1000 * (worker + 1) + i, worker + 1, i))
                # One slot every process fights over: exactly one profile may hold it.
                removed = await profiles.install(profile(100 * (worker + 1) + i, 0, 0))
                out["removed_shared_slot"] += [r.profile.charging_profile_id for r in removed]

        async def configuration() -> None:
            for i in range(5):
                await stores.configuration.set_value("CPC", f"W{worker}K{i}", str(i))
                await stores.configuration.put(
                    "CPC", [KeyValue(key=f"Shared{i}", readonly=True, value=f"W{worker}")]
                )

        async def meter_values() -> None:
            for _ in range(2):
                out["meter_added"] += await stores.transactions.add_meter_values(
                    "CPM", 1, 7, meter_batch
                )

        async def marks() -> None:
            # Every process marks the seeded transactions (its own meterStop) and the last one
            # stops them too, from the other end: the first mark wins, a stop completes.
            end = UnconfirmedEnd(
                meter_stop=worker, timestamp=BASE, cause=UnconfirmedEndCause.BOOT, detected_at=BASE
            )
            for transaction_id in seeded:
                record = await stores.transactions.end_unconfirmed(transaction_id, end)
                mark = record.unconfirmed_end
                out["marks"][transaction_id] = [
                    None if mark is None else mark.meter_stop,
                    record.stop is not None,
                ]
            if worker == WORKERS_STOPPING:
                for transaction_id in reversed(seeded):
                    await stores.transactions.stop(
                        transaction_id, TransactionStop(meter_stop=99, timestamp=BASE)
                    )

        async def unmatched() -> None:
            for n in range(UNMATCHED_STOPS):
                stop = UnmatchedStop(
                    charge_point_id="CPS",
                    transaction_id=-1,
                    stop=TransactionStop(meter_stop=n, timestamp=BASE),
                    cause=UnmatchedStopCause.NO_TRANSACTION_ID,
                    received_at=BASE + timedelta(seconds=worker),
                )
                out["unmatched_added"] += await stores.transactions.add_unmatched_stop(stop)

        async def certificates() -> None:
            # Each process replaces the root certificates with a batch of its own, again and
            # again: the store must always hold one whole batch.
            kind = GetCertificateIdUse.V2G_ROOT_CERTIFICATE
            for round_ in range(CERTIFICATE_REPLACEMENTS):
                batch = [
                    InstalledCertificate(
                        charge_point_id="CPP",
                        certificate_type=kind,
                        hash_data=CertificateHashData(
                            hash_algorithm=HashAlgorithm.SHA256,
                            issuer_name_hash="aa",
                            issuer_key_hash="bb",
                            serial_number=f"{worker + 1}{round_}{i:02d}",
                        ),
                        updated_at=BASE,
                    )
                    for i in range(CERTIFICATE_BATCH)
                ]
                await stores.pnc_certificates.replace_installed("CPP", [kind], batch)
                listed = await stores.pnc_certificates.installed("CPP")
                batches = {c.hash_data.serial_number[:2] for c in listed}
                if len(batches) != 1 or len(listed) != CERTIFICATE_BATCH:
                    out["certificate_mixes"] += 1

        jobs = (
            starts,
            increments,
            lists,
            installs,
            configuration,
            meter_values,
            marks,
            unmatched,
            certificates,
        )
        async with anyio.create_task_group() as group:
            for job in jobs:
                group.start_soon(job)
    return out


# --- the durability writer ----------------------------------------------------------------------


def writer_start(n: int) -> Any:
    """The ``n``-th StartTransaction of the durability writer."""
    from ocpp16csms.stores import TransactionStart

    return TransactionStart(
        charge_point_id=f"CP{n % 7}",
        connector_id=1 + n % 3,
        id_tag=f"Tag{n}",
        meter_start=n,
        timestamp=BASE + timedelta(seconds=n),
    )


async def _write(dsn: str, log_path: str, first: int, count: int) -> None:
    from ocpp16csms.datatypes import (
        MeterValue,
        SampledValue,
    )
    from ocpp16csms.stores import TransactionStop
    from ocpp16csms.stores.postgresql import postgresql_stores

    async with postgresql_stores(dsn, pool_size=2) as stores:
        with open(log_path, "a", encoding="utf-8") as log:
            for n in range(first, first + count):
                start = writer_start(n)
                log.write(json.dumps({"sent": n}) + "\n")
                log.flush()
                record, created = await stores.transactions.start(start)
                value = MeterValue(
                    timestamp=start.timestamp, sampled_value=(SampledValue(value=str(n)),)
                )
                await stores.transactions.add_meter_values(
                    start.charge_point_id, start.connector_id, record.transaction_id, [value]
                )
                if n % 2:
                    await stores.transactions.stop(
                        record.transaction_id,
                        TransactionStop(meter_stop=n + 10, timestamp=start.timestamp),
                    )
                # Acknowledged only now, as a central system answers only once it is stored.
                ack = {"ack": n, "id": record.transaction_id, "created": created}
                log.write(json.dumps(ack) + "\n")
                log.flush()


def main(argv: list[str]) -> None:
    """``python _pg_workers.py DSN LOG FIRST COUNT [BACKEND]``: the durability writer."""
    import anyio

    dsn, log_path, first, count = argv[0], argv[1], int(argv[2]), int(argv[3])
    backend = argv[4] if len(argv) > 4 else "asyncio"
    anyio.run(_write, dsn, log_path, first, count, backend=backend)


if __name__ == "__main__":
    main(sys.argv[1:])
