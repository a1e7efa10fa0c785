"""Several OS processes on one PostgreSQL database: nothing duplicated, nothing lost.

Three spawned processes (two on asyncio, one on trio) start at the same moment and race, each
with several concurrent tasks (``_pg_workers.race``): the same StartTransaction retries and
their own new starts, compare-and-set increments of one reservation, local list saves, charging
profile installs on their own connectors and on one contested slot, configuration writes, the
same meter values, ended-unconfirmed marks racing each other and a stop, the same unmatched
StopTransactions, and replacements of one charge point's installed certificates. The checks are the store contract across processes.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator

import psycopg
import pytest

import _pg_workers as w
from _postgres import drop_database, fresh_database

pytestmark = pytest.mark.postgres

WORKERS = 3
assert w.WORKERS_STOPPING < WORKERS


@pytest.fixture
def dsn() -> Iterator[str]:
    made, name = fresh_database()
    yield made
    drop_database(name)


def seed(dsn: str) -> None:
    import anyio

    from ocpp16csms.profiles.reservation.lifecycle import ReservationRecord
    from ocpp16csms.stores.postgresql import postgresql_stores

    async def body() -> None:
        async with postgresql_stores(dsn) as stores:
            for n in range(w.MARKED):
                await stores.transactions.start(w.seed_start(n))
            await stores.require("reservations").save(
                ReservationRecord(
                    charge_point_id="CPR",
                    reservation_id=1,
                    connector_id=1,
                    id_tag="T",
                    expiry_date=w.BASE,
                    requested_at=w.BASE,
                    updated_at=w.BASE,
                    transaction_id=0,
                )
            )

    anyio.run(body)


def test_processes_racing_on_one_database(dsn: str) -> None:
    seed(dsn)
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 3.0  # after every process has imported and connected
    with context.Pool(WORKERS) as pool:
        results = pool.starmap(w.race, [(dsn, worker, start_at) for worker in range(WORKERS)])
    assert {r["backend"] for r in results} == {"asyncio", "trio"}

    # Retries racing across processes: one id per start key, created exactly once.
    for n in range(w.SHARED_STARTS):
        answers = [r["shared"][n] for r in results]
        assert len({transaction_id for transaction_id, _ in answers}) == 1, n
        assert sorted(created for _, created in answers) == [False] * (WORKERS - 1) + [True]
    shared_ids = {r["shared"][n][0] for r in results for n in range(w.SHARED_STARTS)}
    own_ids = [r["own"][n][0] for r in results for n in range(w.OWN_STARTS)]
    assert all(r["own"][n][1] for r in results for n in range(w.OWN_STARTS))
    # No id handed out twice, in any process.
    assert len(set(own_ids)) == len(own_ids)
    assert not shared_ids & set(own_ids)
    assert all(1 <= i <= 2**31 - 1 for i in shared_ids | set(own_ids))

    with psycopg.connect(dsn) as connection:

        def scalar(query: str) -> object:
            row = connection.execute(query).fetchone()
            assert row is not None
            return row[0]

        assert scalar(
            "SELECT count(*) FROM transactions WHERE charge_point_id <> 'CPU'"
        ) == w.SHARED_STARTS + WORKERS * (w.OWN_STARTS)
        # Compare-and-set: every increment won once, none lost.
        assert sum(r["cas_wins"] for r in results) == WORKERS * w.RESERVATION_INCREMENTS
        assert (
            scalar("SELECT transaction_id FROM reservations WHERE charge_point_id = 'CPR'")
            == WORKERS * w.RESERVATION_INCREMENTS
        )

        # Local lists: each process's own list is its last save; the shared one is whole.
        for worker in range(WORKERS):
            assert (
                scalar(f"SELECT version FROM local_lists WHERE charge_point_id = 'W{worker}'")
                == w.LOCAL_LIST_SAVES
            )
        shared = connection.execute(
            "SELECT version, entries FROM local_lists WHERE charge_point_id = 'SHARED'"
        ).fetchone()
        assert shared is not None
        version, entries = shared
        assert entries.count('"idTag":') == version % 4 + 1
        assert f"V{version}T0" in entries

        # Profiles: every own-slot profile is there; one profile holds the contested slot, and
        # every other one installed there was reported removed exactly once.
        own_profiles = {
            1000 * (worker + 1) + i for worker in range(WORKERS) for i in range(w.PROFILES_EACH)
        }
        held = {
            row[0]
            for row in connection.execute(
                "SELECT charging_profile_id FROM charging_profiles WHERE connector_id > 0"
            )
        }
        assert held == own_profiles
        (winner,) = [
            row[0]
            for row in connection.execute(
                "SELECT charging_profile_id FROM charging_profiles WHERE connector_id = 0"
            )
        ]
        contested = {
            100 * (worker + 1) + i for worker in range(WORKERS) for i in range(w.PROFILES_EACH)
        }
        removed = [pid for r in results for pid in r["removed_shared_slot"]]
        assert sorted(removed) == sorted(contested - {winner})

        # Configuration: every process's keys are there.
        keys = {row[0] for row in connection.execute("SELECT key FROM configuration")}
        assert keys == {f"W{worker}K{i}" for worker in range(WORKERS) for i in range(5)} | {
            f"Shared{i}" for i in range(5)
        }

        # Meter values: the same batch from every process is stored, and counted, once.
        assert sum(r["meter_added"] for r in results) == w.METER_VALUES
        assert scalar("SELECT count(*) FROM meter_values") == w.METER_VALUES

        # Marks: every seeded transaction is stopped; the first mark won and every process
        # that saw a mark saw that one.
        rows = connection.execute(
            "SELECT transaction_id, unconfirmed_meter_stop, meter_stop FROM transactions"
            " WHERE charge_point_id = 'CPU'"
        ).fetchall()
        assert len(rows) == w.MARKED
        for transaction_id, mark, meter_stop in rows:
            assert meter_stop == 99
            seen = [r["marks"][transaction_id] for r in results]
            assert {m for m, _ in seen if m is not None} <= {mark}
            assert all(stopped for m, stopped in seen if m is None)
            assert mark is None or mark in range(WORKERS)

        # Unmatched stops: the same ones from every process, kept and counted once.
        assert sum(r["unmatched_added"] for r in results) == w.UNMATCHED_STOPS
        assert scalar("SELECT count(*) FROM unmatched_stops") == w.UNMATCHED_STOPS

        # Installed certificates: every read after a replacement, and the end, hold one
        # replacement's batch, whole.
        assert sum(r["certificate_mixes"] for r in results) == 0
        serials = {
            row[0]
            for row in connection.execute(
                "SELECT key_serial_number FROM pnc_installed_certificates"
                " WHERE charge_point_id = 'CPP'"
            )
        }
        last = w.CERTIFICATE_REPLACEMENTS - 1
        batches = [
            {f"{worker + 1}{last}{i:02d}" for i in range(w.CERTIFICATE_BATCH)}
            for worker in range(WORKERS)
        ]
        assert serials in batches
