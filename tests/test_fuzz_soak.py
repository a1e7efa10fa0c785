"""A short run of ``benchmarks/fuzz_soak.py``: thousands of hostile frames from several
clients against a real WebSocket server find no crash, hang or unexpected close, and the
Heartbeat probe stays responsive. The long soak is the same script with ``--frames 1000000``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ocpp16csms import CallContext, CentralSystem
from ocpp16csms.messages import AuthorizeRequest, AuthorizeResponse

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the websockets library runs on asyncio only


@pytest.fixture(scope="module")
def fuzz_soak() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "fuzz_soak.py"
    spec = importlib.util.spec_from_file_location("fuzz_soak", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_soak"] = module
    spec.loader.exec_module(module)
    return module


async def test_a_short_fuzz_and_soak_run_finds_nothing(fuzz_soak: ModuleType) -> None:
    report = await fuzz_soak.run(frames=3000, clients=3, seconds=60, seed=7)
    summary = report.summary()
    assert report.ok, summary
    assert report.frames == 3000
    assert report.calls_expected > 1000
    # The frames were hostile: every kind of refusal came back, and valid ones were served.
    assert {"CALLRESULT", "FormationViolation", "TypeConstraintViolation"} <= set(report.answers)
    assert report.probe_latencies
    assert max(report.probe_latencies) < 2.0
    assert report.rss_end_mib - report.rss_start_mib < 64


async def test_the_push_path_finds_nothing_either(fuzz_soak: ModuleType) -> None:
    """The same hostile frames pushed in through CentralSystem.attach by a bare server."""
    report = await fuzz_soak.run(frames=2000, clients=2, seconds=60, seed=11, attach=True)
    summary = report.summary()
    assert report.ok, summary
    assert report.frames == 2000
    assert {"CALLRESULT", "FormationViolation", "TypeConstraintViolation"} <= set(report.answers)
    assert report.probe_latencies


async def test_the_run_reports_what_goes_wrong(fuzz_soak: ModuleType) -> None:
    def plant_fault(cs: CentralSystem) -> None:
        @cs.on(AuthorizeRequest)
        async def broken(request: AuthorizeRequest, context: CallContext) -> AuthorizeResponse:
            raise RuntimeError("planted")

    report = await fuzz_soak.run(frames=600, clients=2, seconds=30, seed=3, configure=plant_fault)
    assert not report.ok
    assert report.internal_errors
    assert any("planted" in crash for crash in report.crashes)
