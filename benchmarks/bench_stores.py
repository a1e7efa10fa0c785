"""StartTransaction, MeterValues and StopTransaction per second on memory, SQLite and PostgreSQL.

``--concurrency`` charge points at once (each with one message outstanding, as OCPP-J allows)
run ``--sessions`` rounds: every charge point starts a transaction, then (once all have) sends
one MeterValues for it, then stops it. Each phase is timed on its own over all rounds, and no
charge point has more than one transaction open. Two ways:

- ``stores``: the store calls the central system makes for those messages, called directly;
- ``central-system``: the messages themselves, from simulated charge points over in-memory
  connections to a :class:`~ocpp16csms.CentralSystem` (codec, validation, handlers and their
  store calls: StopTransaction also reads the transaction and drops its TxProfiles).

SQLite is a file with WAL and ``synchronous = FULL``; PostgreSQL is a throwaway server from the
``pgserver`` package with its default, durable settings (``fsync`` and ``synchronous_commit``
on), or the server of ``--dsn``. Both wait for the disk on every commit, so the figures depend
on it: they compare the backends on one machine, they are not a capacity figure.

    python benchmarks/bench_stores.py [--sessions 200] [--concurrency 20] [--dsn DSN]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio

from ocpp16csms import (
    CentralSystem,
    CentralSystemOptions,
    Stores,
    memory_stores,
)
from ocpp16csms.datatypes import (
    MeterValue,
    SampledValue,
)
from ocpp16csms.enums import (
    Measurand,
    ReadingContext,
    Reason,
    UnitOfMeasure,
)
from ocpp16csms.messages import (
    MeterValuesRequest,
    RegistrationStatus,
    StartTransactionRequest,
    StopTransactionRequest,
)
from ocpp16csms.stores import (
    ChargePointRecord,
    IdTagRecord,
    TransactionStart,
    TransactionStop,
)
from ocpp16csms.testing import (
    ChargePointSimulator,
    memory_connection_pair,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PHASES = ("StartTransaction", "MeterValues", "StopTransaction")


def meter_value(n: int) -> MeterValue:
    return MeterValue(
        timestamp=T0 + timedelta(seconds=n),
        sampled_value=(
            SampledValue(
                value=str(n * 250),
                context=ReadingContext.SAMPLE_PERIODIC,
                measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
                unit=UnitOfMeasure.WH,
            ),
        ),
    )


@contextlib.asynccontextmanager
async def backend(name: str, directory: Path, dsn: str | None, pool: int) -> AsyncIterator[Stores]:
    if name == "memory":
        yield memory_stores()
    elif name == "sqlite":
        from ocpp16csms.stores.sqlite import sqlite_stores

        async with sqlite_stores(directory / f"bench-{time.monotonic_ns()}.sqlite3") as stores:
            yield stores
    else:
        import psycopg

        from ocpp16csms.stores.postgresql import postgresql_stores

        assert dsn is not None
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS ocpp16csms_bench WITH (FORCE)")
            admin.execute("CREATE DATABASE ocpp16csms_bench")
        from psycopg.conninfo import make_conninfo

        async with postgresql_stores(
            make_conninfo(dsn, dbname="ocpp16csms_bench"), pool_size=pool
        ) as stores:
            yield stores


async def phases(
    concurrency: int,
    sessions: int,
    start: Callable[[int, int], Awaitable[int]],
    meter: Callable[[int, int, int], Awaitable[None]],
    stop: Callable[[int, int, int], Awaitable[None]],
) -> dict[str, float]:
    """Run ``sessions`` rounds of the three phases; return messages per second of each.

    In each round every charge point starts a transaction, then (once all have) sends a
    MeterValues for it, then stops it: each phase is timed on its own, and no charge point
    has more than one transaction open, as on a real single-connector charge point.
    """
    spent = dict.fromkeys(PHASES, 0.0)

    async def timed(phase: str, job: Callable[[int], Awaitable[None]]) -> None:
        began = time.perf_counter()
        async with anyio.create_task_group() as group:
            for worker in range(concurrency):
                group.start_soon(job, worker)
        spent[phase] += time.perf_counter() - began

    for n in range(sessions):
        ids: dict[int, int] = {}

        async def starts(worker: int, n: int = n, ids: dict[int, int] = ids) -> None:
            ids[worker] = await start(worker, n)

        async def meters(worker: int, n: int = n, ids: dict[int, int] = ids) -> None:
            await meter(worker, n, ids[worker])

        async def stops(worker: int, n: int = n, ids: dict[int, int] = ids) -> None:
            await stop(worker, n, ids[worker])

        for phase, job in zip(PHASES, (starts, meters, stops), strict=True):
            await timed(phase, job)
    return {phase: concurrency * sessions / seconds for phase, seconds in spent.items()}


def cp(worker: int) -> str:
    return f"CP{worker:04d}"


async def through_stores(stores: Stores, concurrency: int, sessions: int) -> dict[str, float]:
    transactions = stores.transactions

    async def start(worker: int, n: int) -> int:
        record, _ = await transactions.start(
            TransactionStart(
                charge_point_id=cp(worker),
                connector_id=1,
                id_tag="TAG",
                meter_start=n,
                timestamp=T0 + timedelta(seconds=n),
            )
        )
        return record.transaction_id

    async def meter(worker: int, n: int, transaction_id: int) -> None:
        await transactions.add_meter_values(cp(worker), 1, transaction_id, [meter_value(n)])

    async def stop(worker: int, n: int, transaction_id: int) -> None:
        await transactions.stop(
            transaction_id,
            TransactionStop(meter_stop=n + 250, timestamp=T0 + timedelta(seconds=n + 1)),
        )

    return await phases(concurrency, sessions, start, meter, stop)


async def through_central_system(
    stores: Stores, concurrency: int, sessions: int
) -> dict[str, float]:
    for worker in range(concurrency):
        await stores.charge_points.save(
            ChargePointRecord(
                charge_point_id=cp(worker), registration_status=RegistrationStatus.ACCEPTED
            )
        )
    await stores.id_tags.save(IdTagRecord(id_tag="TAG"))
    cs = CentralSystem(stores, CentralSystemOptions(heartbeat_interval=3600))
    simulators: dict[int, ChargePointSimulator] = {}

    async def start(worker: int, n: int) -> int:
        answer = await simulators[worker].call(
            StartTransactionRequest(
                connector_id=1, id_tag="TAG", meter_start=n, timestamp=T0 + timedelta(seconds=n)
            )
        )
        return answer.transaction_id

    async def meter(worker: int, n: int, transaction_id: int) -> None:
        await simulators[worker].call(
            MeterValuesRequest(
                connector_id=1, transaction_id=transaction_id, meter_value=(meter_value(n),)
            )
        )

    async def stop(worker: int, n: int, transaction_id: int) -> None:
        await simulators[worker].call(
            StopTransactionRequest(
                meter_stop=n + 250,
                timestamp=T0 + timedelta(seconds=n + 1),
                transaction_id=transaction_id,
                reason=Reason.LOCAL,
            )
        )

    async with contextlib.AsyncExitStack() as stack:
        group = await stack.enter_async_context(anyio.create_task_group())
        for worker in range(concurrency):
            cs_end, cp_end = memory_connection_pair()
            group.start_soon(cs.serve, cs_end, cp(worker))
            simulator = ChargePointSimulator(cp(worker), cp_end)
            await stack.enter_async_context(simulator.running())
            await simulator.boot()
            simulators[worker] = simulator
        rates = await phases(concurrency, sessions, start, meter, stop)
        for simulator in simulators.values():
            await simulator.close()
    return rates


@contextlib.contextmanager
def postgres_server(dsn: str | None) -> Iterator[str | None]:
    if dsn is not None:
        yield dsn
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="ocpp16csms-bench-pg-") as directory:
        server = pgserver.get_server(Path(directory) / "pgdata", cleanup_mode="delete")
        try:
            yield str(server.get_uri())
        finally:
            server.cleanup()


async def run(args: argparse.Namespace, dsn: str | None, directory: Path) -> None:
    names = ["memory", "sqlite"] + (["postgresql"] if dsn else [])
    print(
        f"{args.concurrency} charge points at once, {args.sessions} transactions each"
        f" ({args.concurrency * args.sessions} of each message); messages per second"
    )
    print(f"{'backend':<12}{'via':<16}" + "".join(f"{p:>18}" for p in PHASES))
    for name in names:
        for via, fn in (("stores", through_stores), ("central-system", through_central_system)):
            async with backend(name, directory, dsn, args.concurrency) as stores:
                rates = await fn(stores, args.concurrency, args.sessions)
            print(f"{name:<12}{via:<16}" + "".join(f"{rates[p]:>18,.0f}" for p in PHASES))
    if not dsn:
        print("(postgresql skipped: pgserver is not installed and no --dsn was given)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--dsn", help="a PostgreSQL superuser DSN (default: start pgserver)")
    args = parser.parse_args()
    with postgres_server(args.dsn) as dsn, tempfile.TemporaryDirectory() as directory:
        anyio.run(run, args, dsn, Path(directory))


if __name__ == "__main__":
    main()
