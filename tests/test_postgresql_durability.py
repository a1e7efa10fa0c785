"""A writer killed with SIGKILL mid-load loses nothing it acknowledged, and ids are never reused.

The writer (``_pg_workers.main``, a separate process) starts transactions, adds a meter value to
each and stops every other one, logging a line before each start ("sent") and one after its
writes returned ("ack", as a central system answers only then). It is killed mid-load, then
restarted resending its last starts (as charge points resend unanswered messages) and going on
with new ones. ``benchmarks/soak_postgres_kill.py`` runs the same cycle many times.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

import _pg_workers as w
from _postgres import drop_database, fresh_database

pytestmark = pytest.mark.postgres

WORKERS_SCRIPT = Path(__file__).with_name("_pg_workers.py")


@pytest.fixture
def dsn() -> Iterator[str]:
    made, name = fresh_database()
    yield made
    drop_database(name)


def writer(dsn: str, log: Path, first: int, count: int, backend: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.Popen(
        [sys.executable, str(WORKERS_SCRIPT), dsn, str(log), str(first), str(count), backend],
        env=env,
    )


def read_log(log: Path) -> tuple[set[int], dict[int, tuple[int, bool]]]:
    sent: set[int] = set()
    acked: dict[int, tuple[int, bool]] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            entry: dict[str, Any] = json.loads(line)
        except ValueError:
            continue  # the line being written when the writer died
        if "sent" in entry:
            sent.add(entry["sent"])
        else:
            acked[entry["ack"]] = (entry["id"], entry["created"])
    return sent, acked


def stored(dsn: str) -> dict[int, tuple[Any, ...]]:
    """Every stored transaction by id: its start key, whether stopped, its meter values."""
    with psycopg.connect(dsn) as connection:
        rows = connection.execute(
            "SELECT t.transaction_id, t.charge_point_id, t.connector_id, t.id_tag,"
            " t.meter_start, t.stop_timestamp IS NOT NULL,"
            " (SELECT count(*) FROM meter_values m WHERE m.transaction_id = t.transaction_id)"
            " FROM transactions t"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def expected_row(n: int, *, stopped: bool, meter_values: int) -> tuple[Any, ...]:
    start = w.writer_start(n)
    return (
        start.charge_point_id,
        start.connector_id,
        start.id_tag,
        start.meter_start,
        stopped,
        meter_values,
    )


def wait_for_acks(log: Path, count: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if log.exists() and len(read_log(log)[1]) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"the writer acknowledged fewer than {count} starts in time")


def test_a_killed_writer_loses_nothing_acknowledged(dsn: str, tmp_path: Path) -> None:
    log = tmp_path / "writer.log"
    first = writer(dsn, log, 0, 100_000, "asyncio")
    try:
        wait_for_acks(log, 60, first)
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.wait()
    assert first.returncode == -signal.SIGKILL
    sent, acked = read_log(log)
    assert len(acked) >= 60
    before = stored(dsn)

    # Everything acknowledged is there, whole: its start, its meter value, its stop.
    for n, (transaction_id, created) in acked.items():
        assert created is True
        assert before[transaction_id] == expected_row(n, stopped=bool(n % 2), meter_values=1)
    # Nothing is stored that was not sent (meter_start is the writer's n); at most the start
    # in flight when the writer died is stored unacknowledged.
    stored_n = [row[3] for row in before.values()]
    assert set(acked) <= set(stored_n) <= sent
    assert len(stored_n) == len(set(stored_n))
    assert len(sent) - len(acked) <= 1

    # Restart: resend the last few starts (acknowledged or not), then go on with new ones.
    resend_from = max(sent) - 4
    log2 = tmp_path / "writer2.log"
    second = writer(dsn, log2, resend_from, 30, "trio")
    assert second.wait(timeout=120) == 0
    _, acked2 = read_log(log2)
    assert sorted(acked2) == list(range(resend_from, resend_from + 30))
    after = stored(dsn)
    for n, (transaction_id, created) in acked2.items():
        if n in acked:
            assert (transaction_id, created) == (acked[n][0], False)
        elif n in sent and transaction_id in before:
            assert created is False  # stored just before the kill, never acknowledged
        else:
            assert created is True
            assert transaction_id not in before  # an id is never handed out twice
            assert transaction_id > max(before)
        assert after[transaction_id][:4] == expected_row(n, stopped=False, meter_values=0)[:4]
    for transaction_id, row in before.items():
        assert after[transaction_id][:4] == row[:4]
    assert len(after) == len({*sent, *acked2})
