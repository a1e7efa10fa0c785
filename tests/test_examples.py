"""The examples run as documented (the quickstart is the README's "run it" command)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_demo(script: str, *arguments: str) -> str:
    """Run ``examples/<script> --demo <arguments>``; its output, once it exited 0."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--demo", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_quickstart_demo_completes_a_charging_session_over_websocket() -> None:
    out = run_demo("quickstart.py", "--port", "0")
    assert "ws://127.0.0.1:" in out
    assert "CP → BootNotification" in out
    assert '"status":"Accepted"' in out
    for operation in ("GetConfiguration", "ChangeConfiguration", "TriggerMessage"):
        assert f"CS → {operation}" in out
    assert "CS → RemoteStopTransaction" in out
    assert '"reason":"Remote"' in out
    assert "stopped: Remote" in out
    assert "the demo session completed." in out


def test_plug_and_charge_demo_runs_every_exchange_over_websocket() -> None:
    out = run_demo("plug_and_charge.py", "--port", "0")
    assert "ws://127.0.0.1:" in out
    for action in ("Authorize", "SignCertificate", "Get15118EVCertificate", "GetCertificateStatus"):
        assert f"CP → {action}" in out
    for action in ("CertificateSigned", "InstallCertificate", "GetInstalledCertificateIds"):
        assert f"CS → {action}" in out
    assert "CS → TriggerMessage" in out
    assert "DEMO-EMAID-1: Accepted, certificate Accepted" in out
    assert "DEMO-EMAID-2: Unknown" in out
    assert "from the V2G root" in out
    assert "the Plug & Charge demo completed." in out


def _run(script: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_custom_store_example_authorizes_from_sqlite() -> None:
    out = _run("custom_store.py")
    assert out.splitlines() == ["alice-01: Accepted", "MALLORY: Blocked", "nobody: Invalid"]


def test_override_handler_example() -> None:
    out = _run("override_handler.py").splitlines()
    assert out[:3] == ["ROAM-42: Accepted", "LOCAL-1: Accepted", "STRANGER: Invalid"]
    assert out[3] == "exchanges observed: {'Authorize': 3}"


def test_asgi_starlette_example_compiles() -> None:
    # Starlette is not a dependency of the project; the example is checked for syntax only.
    source = (ROOT / "examples" / "asgi_starlette.py").read_text(encoding="utf-8")
    compile(source, "asgi_starlette.py", "exec")
    assert "OcppAsgiApp" in source


def test_operator_api_demo_operates_a_charge_point_over_http() -> None:
    out = run_demo("operator_api.py", "--port", "0")
    assert 'GET /api/charge-points → 200 [{"chargePointId":"CP-1"}]' in out
    assert 'POST /api/charge-points/CP-1/reset → 200 {"status":"Accepted"}' in out
    assert '/remote-start-transaction → 200 {"status":"Accepted"}' in out
    assert '→ 422 {"error":"PropertyConstraintViolation"' in out
    assert 'CP-9/clear-cache → 404 {"error":"ChargePointNotConnected"' in out
    assert "without a token → 401" in out
    assert "the demo completed." in out


def test_prometheus_demo_prints_the_exposition() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "prometheus.py"), "--demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert (
        'ocpp_messages_total{ocpp_action="StatusNotification",ocpp_direction="inbound"} 4.0'
        in lines
    )
    assert 'ocpp_messages_total{ocpp_action="Reset",ocpp_direction="outbound"} 1.0' in lines
    assert "ocpp_charge_points_connected 1.0" in lines
    assert any(line.startswith("ocpp_store_duration_seconds_count{") for line in lines)


def test_the_library_and_its_simulator_import_without_test_dependencies() -> None:
    # The README's run command installs no test extras: hypothesis must not be needed.
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import ocpp16csms, ocpp16csms.testing, ocpp16csms.testing.websocket\n"
        "from ocpp16csms.testing import ChargePointSimulator\n"
        "print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def _demo(script: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_load_balancing_demo_keeps_the_site_under_its_limit() -> None:
    out = _demo("load_balancing.py")
    assert "start CP-C/1                 CP-A/1=16 A, CP-A/2=16 A, CP-B/1=16 A, CP-C/1=16 A" in out
    assert out.count(": ok") == 8
    assert "every step within the site limit." in out


def test_firmware_rollout_demo_installs_the_whole_fleet() -> None:
    out = _demo("firmware_rollout.py")
    assert "CP-2: Pending -> Offline" in out
    assert "CP-3: Updating -> RetryScheduled (the charge point reported DownloadFailed)" in out
    assert "CP-2: Offline -> Updating" in out
    assert "CP-3: RetryScheduled -> Updating" in out
    assert "Updating 3" not in out  # at most two at a time
    assert out.rstrip().endswith(
        "campaign finished: 6 of 6 installed; attempts {'CP-1': 1, 'CP-2': 1, 'CP-3': 2, "
        "'CP-4': 1, 'CP-5': 1, 'CP-6': 1}"
    )


def test_attach_example_charges_over_the_hosts_own_server() -> None:
    out = run_demo("attach_own_server.py", "--port", "0")
    assert "boot: Accepted" in out
    assert "remote stop: Accepted" in out
    assert "transaction 1:" in out
    assert "meter values stored: 0" not in out
    assert "the attached session completed." in out
