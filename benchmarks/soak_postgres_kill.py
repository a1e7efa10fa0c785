"""Soak: kill a PostgreSQL-backed writer with SIGKILL again and again; nothing acknowledged lost.

The longer variant of ``tests/test_postgresql_durability.py``, with the same writer
(``tests/_pg_workers.py``): each cycle starts the writer where the previous one stopped,
resending its last few starts (as charge points resend unanswered messages), kills it after a
random number of acknowledged starts, and checks the database: every acknowledged start is
stored whole with the id it was answered with, a resent start got its first id back, no id was
handed out twice, and every stored start was sent. Uses a throwaway ``pgserver`` cluster (with
its durable default settings), or ``--dsn`` (a superuser connection string; a database
``ocpp16csms_soak`` is made there). Loopback only; stops after ``--cycles`` or ``--seconds``.

    python benchmarks/soak_postgres_kill.py [--cycles 30] [--seconds 300] [--dsn DSN]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

import _pg_workers as w  # noqa: E402  (the writer the durability test uses)


@contextmanager
def server(dsn: str | None) -> Iterator[str]:
    if dsn is not None:
        yield dsn
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    with tempfile.TemporaryDirectory(prefix="ocpp16csms-soak-pg-") as directory:
        handle = pgserver.get_server(Path(directory) / "pgdata", cleanup_mode="delete")
        try:
            yield str(handle.get_uri())
        finally:
            handle.cleanup()


def read_log(log: Path) -> tuple[set[int], dict[int, tuple[int, bool]]]:
    sent: set[int] = set()
    acked: dict[int, tuple[int, bool]] = {}
    if not log.exists():
        return sent, acked
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            entry: dict[str, Any] = json.loads(line)
        except ValueError:
            continue
        if "sent" in entry:
            sent.add(entry["sent"])
        else:
            acked[entry["ack"]] = (entry["id"], entry["created"])
    return sent, acked


def stored(dsn: str) -> dict[int, tuple[int, str, int]]:
    """Stored transactions by the writer's n (its meter_start): id, charge point, connector."""
    with psycopg.connect(dsn) as connection:
        rows = connection.execute(
            "SELECT meter_start, transaction_id, charge_point_id, connector_id FROM transactions"
        ).fetchall()
    found: dict[int, tuple[int, str, int]] = {}
    for meter_start, transaction_id, charge_point_id, connector_id in rows:
        if meter_start in found:
            raise AssertionError(f"start {meter_start} stored twice")
        found[meter_start] = (transaction_id, charge_point_id, connector_id)
    return found


def cycle(dsn: str, log: Path, first: int, kill_after: int, backend: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    process = subprocess.Popen(
        [
            sys.executable,
            str(TESTS / "_pg_workers.py"),
            dsn,
            str(log),
            str(first),
            "1000000",
            backend,
        ],
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if len(read_log(log)[1]) >= kill_after:
                break
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    if process.returncode != -signal.SIGKILL:
        raise AssertionError(f"the writer ended with {process.returncode} before it was killed")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--dsn")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    began = time.monotonic()
    with server(args.dsn) as admin_dsn, tempfile.TemporaryDirectory() as directory:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS ocpp16csms_soak WITH (FORCE)")
            admin.execute("CREATE DATABASE ocpp16csms_soak")
        dsn = make_conninfo(admin_dsn, dbname="ocpp16csms_soak")
        answered: dict[int, int] = {}  # n -> the id it was first answered with
        all_sent: set[int] = set()
        next_n = 0
        ids_before: set[int] = set()
        number = 0
        for number in range(1, args.cycles + 1):
            if time.monotonic() - began > args.seconds:
                break
            log = Path(directory) / f"cycle{number}.log"
            first = max(0, next_n - rng.randint(0, 5))
            cycle(dsn, log, first, rng.randint(1, 400), rng.choice(["asyncio", "trio"]))
            sent, acked = read_log(log)
            all_sent |= sent
            now = stored(dsn)
            for n, (transaction_id, created) in acked.items():
                if n in answered:
                    assert (transaction_id, created) == (answered[n], False), n
                else:
                    answered[n] = transaction_id
                    if created:
                        assert transaction_id not in ids_before, transaction_id
                start = w.writer_start(n)
                assert now[n] == (transaction_id, start.charge_point_id, start.connector_id), n
            assert all(n in now for n in answered), "an acknowledged start is missing"
            assert set(now) <= all_sent, "a start is stored that was never sent"
            ids_before = {transaction_id for transaction_id, _, _ in now.values()}
            next_n = max(sent, default=next_n - 1) + 1
            print(
                f"cycle {number:3d}: {len(acked):4d} acknowledged, {len(now):6d} stored,"
                f" {len(answered):6d} answered so far; ok"
            )
        print(f"{len(answered)} acknowledged starts over {number} kills: none lost, none doubled")


if __name__ == "__main__":
    main()
