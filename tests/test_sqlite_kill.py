"""kill -9 durability of the SQLite store, short (``benchmarks/soak_sqlite_kill.py`` is the
long run): a child process serves a central system over WebSocket on one database file and is
killed with SIGKILL at random moments while a charge point sends Start/MeterValues/Stop; after
each restart nothing acknowledged is lost, no transaction id is reused, and a StartTransaction
sent again gets the id it got before."""

from __future__ import annotations

import importlib.util
import signal
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals"),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the websockets client runs on asyncio only


@pytest.fixture(scope="module")
def soak_module() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "soak_sqlite_kill.py"
    spec = importlib.util.spec_from_file_location("soak_sqlite_kill", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak_sqlite_kill"] = module
    spec.loader.exec_module(module)
    return module


async def test_nothing_acknowledged_is_lost_across_kill_9(
    soak_module: ModuleType, tmp_path: Path
) -> None:
    ledger = await soak_module.soak(4, str(tmp_path / "kill.sqlite3"), seed=11, longest=0.6)
    assert ledger.acknowledged > 10
    assert len(ledger.started) >= 2
    assert ledger.stopped
    assert ledger.retried_same_id >= 1
    assert len(set(ledger.started.values())) == len(ledger.started)


async def test_the_check_sees_a_lost_acknowledgement(
    soak_module: ModuleType, tmp_path: Path
) -> None:
    ledger = soak_module.Ledger()
    ledger.started['{"connectorId": 1, "idTag": "TAG", "meterStart": 0}'] = 999
    with pytest.raises(AssertionError, match="999 is lost"):
        await soak_module._check(str(tmp_path / "empty.sqlite3"), ledger)
