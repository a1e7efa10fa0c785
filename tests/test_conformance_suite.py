"""The conformance suite itself: it fails what is wrong, reports what it cannot run, drives
a person or a host's partial driver, runs from the command line against the quickstart
server, and computes certificate hash data as OCSP does."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp

import ocpp16csms
from _conformance_helpers import PASSWORD, TestPki, deployed, register, report, suite_config
from ocpp16csms import CallContext, CentralSystem, NotSupported
from ocpp16csms.messages import (
    AuthorizationStatus,
    AuthorizeRequest,
    AuthorizeResponse,
    HashAlgorithm,
    HeartbeatRequest,
    IdTagInfo,
    KeyValue,
    Profile,
    ResetType,
)
from ocpp16csms.testing.conformance import (
    CASES,
    CaseStatus,
    InProcessOperator,
    NoOperator,
    PromptingOperator,
    run_case,
    run_suite,
    select_cases,
)
from ocpp16csms.testing.conformance.certificates import (
    TEST_ROOT_1,
    TEST_ROOT_2,
    certificate_facts,
    hash_data,
    same_hash_data,
)
from ocpp16csms.testing.conformance.cli import main
from ocpp16csms.testing.conformance.transport import UpgradeRefused, open_websocket

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path(ocpp16csms.__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki()


# -- the registry --------------------------------------------------------------------------


def test_the_registry_holds_every_case_once_with_its_facts() -> None:
    assert len(CASES) == 75
    for case_id, case in CASES.items():
        assert re.fullmatch(r"TC_\d{3}(_\d)?_CSMS", case_id), case_id
        assert case.case_id == case_id
        assert case.name
        assert case.checks
        assert re.fullmatch(r"3\.\d+(\.\d+)?", case.section)
    assert list(CASES)[:3] == ["TC_001_CSMS", "TC_003_CSMS", "TC_004_1_CSMS"]
    assert list(CASES)[-1] == "TC_087_CSMS"


def test_select_cases_keeps_the_document_order_and_refuses_unknown_ids() -> None:
    chosen = select_cases(["tc_013_csms", " TC_001_CSMS"])
    assert [case.case_id for case in chosen] == ["TC_001_CSMS", "TC_013_CSMS"]
    with pytest.raises(KeyError, match="TC_999_CSMS"):
        select_cases(["TC_999_CSMS"])


# -- what is wrong fails -------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_central_system_accepting_unknown_tags_fails_tc_023_1(
    anyio_backend: str, pki: TestPki
) -> None:
    def accept_everyone(cs: CentralSystem) -> None:
        @cs.on(AuthorizeRequest)
        async def authorize(request: AuthorizeRequest, ctx: CallContext) -> AuthorizeResponse:
            return AuthorizeResponse(id_tag_info=IdTagInfo(status=AuthorizationStatus.ACCEPTED))

    async with deployed(anyio_backend, pki, configure=accept_everyone) as deployment:
        await register(deployment.central_system, "CP1")
        result = await run_case(CASES["TC_023_1_CSMS"], suite_config(deployment, "CP1"))
    assert result.status is CaseStatus.FAILED
    assert result.reason == (
        "Step 2 (Authorize.conf): idTagInfo.status is Invalid; got Accepted"
    ), report(result)
    assert result.validations[-1].passed is False


class _WrongReset(InProcessOperator):
    async def reset(self, charge_point_id: str, *, reset_type: ResetType) -> object:
        return await self.central_system.core.reset(charge_point_id, ResetType.SOFT)


@pytest.mark.anyio
async def test_an_operator_sending_the_wrong_reset_fails_tc_013(
    anyio_backend: str, pki: TestPki
) -> None:
    async with deployed(anyio_backend, pki) as deployment:
        await register(deployment.central_system, "CP1")
        operator = _WrongReset(deployment.central_system)
        result = await run_case(CASES["TC_013_CSMS"], suite_config(deployment, "CP1"), operator)
    assert result.status is CaseStatus.FAILED
    assert result.reason == "Step 1 (Reset.req): type is Hard; got Soft", report(result)


@pytest.mark.anyio
async def test_an_unknown_charge_point_is_not_accepted_and_fails_tc_001(
    anyio_backend: str, pki: TestPki
) -> None:
    async with deployed(anyio_backend, pki) as deployment:  # unknown ones are rejected
        config = suite_config(deployment, "STRANGER", password=None)
        result = await run_case(CASES["TC_001_CSMS"], config)
    assert result.status is CaseStatus.FAILED
    # Errata 3.68: refused at the handshake, before any BootNotification.
    assert result.reason.startswith("Connection (HTTP upgrade): The Central System upgrades")
    assert result.reason.endswith("got 404: Not Found"), result.reason


@pytest.mark.anyio
async def test_a_wrong_password_fails_the_upgrade(anyio_backend: str, pki: TestPki) -> None:
    async with deployed(anyio_backend, pki) as deployment:
        await register(deployment.central_system, "CP1")
        config = suite_config(deployment, "CP1", password="not-the-password")
        result = await run_case(CASES["TC_085_CSMS"], config)
    assert result.status is CaseStatus.FAILED
    assert result.reason.startswith("Step 2 (HTTP upgrade): The Central System upgrades")
    assert result.reason.endswith("got 401: Unauthorized"), result.reason


@pytest.mark.anyio
async def test_a_call_error_fails_the_step_that_expects_the_answer(
    anyio_backend: str, pki: TestPki
) -> None:
    def refuse_heartbeats(cs: CentralSystem) -> None:
        @cs.on(HeartbeatRequest)
        async def heartbeat(request: HeartbeatRequest, ctx: CallContext) -> object:
            raise NotSupported("no heartbeats here")

    async with deployed(anyio_backend, pki, configure=refuse_heartbeats) as deployment:
        await register(deployment.central_system, "CP1")
        result = await run_case(CASES["TC_001_CSMS"], suite_config(deployment, "CP1"))
    assert result.status is CaseStatus.FAILED
    assert result.reason == (
        "Step 6 (Heartbeat.conf): The Central System responds with a Heartbeat.conf; "
        "got CALLERROR NotSupported: no heartbeats here"
    )


class _IdleOperator(NoOperator):
    """Says it did the action, but the central system sends nothing."""

    async def clear_cache(self, charge_point_id: str) -> object:
        return None


@pytest.mark.anyio
async def test_a_request_that_never_comes_fails_after_the_operator_timeout(
    anyio_backend: str, pki: TestPki
) -> None:
    async with deployed(anyio_backend, pki) as deployment:
        await register(deployment.central_system, "CP1")
        config = suite_config(deployment, "CP1", operator_timeout=0.2)
        result = await run_case(CASES["TC_061_CSMS"], config, _IdleOperator())
    assert result.status is CaseStatus.FAILED
    assert result.reason == (
        "Step 1 (ClearCache.req): The Central System sends a ClearCache.req; got nothing within "
        "0.2 s"
    )


@pytest.mark.anyio
async def test_tc_055_deviates_once_the_central_system_knows_the_connector_count(
    anyio_backend: str, pki: TestPki
) -> None:
    # Deliberate: a TriggerMessage for a connector the charge point does not have is refused
    # before sending (InvalidRequest). The OCTT makes TC_055 conditional on that support.
    async with deployed(anyio_backend, pki) as deployment:
        cs = deployment.central_system
        await register(cs, "CP1")
        await cs.stores.configuration.put(
            "CP1", [KeyValue(key="NumberOfConnectors", value="2", readonly=True)]
        )
        result = await run_case(
            CASES["TC_055_CSMS"], suite_config(deployment, "CP1"), InProcessOperator(cs)
        )
    assert result.status is CaseStatus.FAILED
    assert "the operation failed: InvalidRequest" in result.reason, report(result)


# -- what cannot run is reported -----------------------------------------------------------


@pytest.mark.anyio
async def test_cases_needing_an_operator_are_reported_without_one(
    anyio_backend: str, pki: TestPki
) -> None:
    async with deployed(anyio_backend, pki) as deployment:
        await register(deployment.central_system, "CP1")
        config = suite_config(deployment, "CP1")
        results = await run_suite(config, cases=select_cases(["TC_001_CSMS", "TC_013_CSMS"]))
    assert [r.status for r in results] == [CaseStatus.PASSED, CaseStatus.NEEDS_OPERATOR]
    assert results[1].validations == ()


class _CacheOnly(NoOperator):
    """A host's partial driver: its central system can only clear caches."""

    def __init__(self, cs: CentralSystem) -> None:
        self.cs = cs

    async def clear_cache(self, charge_point_id: str) -> object:
        return await self.cs.core.clear_cache(charge_point_id)


@pytest.mark.anyio
async def test_a_partial_driver_runs_what_it_can(anyio_backend: str, pki: TestPki) -> None:
    async with deployed(anyio_backend, pki) as deployment:
        cs = deployment.central_system
        await register(cs, "CP1")
        operator = _CacheOnly(cs)
        config = suite_config(deployment, "CP1")
        cleared = await run_case(CASES["TC_061_CSMS"], config, operator)
        reset = await run_case(CASES["TC_013_CSMS"], config, operator)
    assert cleared.status is CaseStatus.PASSED, report(cleared)
    assert reset.status is CaseStatus.NEEDS_OPERATOR
    assert reset.reason == "no operator driver to make the central system send Reset"
    assert reset.validations  # it got as far as the manual action


@pytest.mark.anyio
async def test_missing_prerequisites_make_cases_not_applicable(
    anyio_backend: str, pki: TestPki
) -> None:
    async with deployed(anyio_backend, pki) as deployment:
        operator = InProcessOperator(deployment.central_system)
        no_reservations = suite_config(
            deployment, "CP1", features=[p for p in Profile if p is not Profile.RESERVATION]
        )
        without_password = suite_config(deployment, "CP1", password=None)
        outcomes = {
            "TC_046_CSMS": await run_case(CASES["TC_046_CSMS"], no_reservations, operator),
            "TC_085_CSMS": await run_case(CASES["TC_085_CSMS"], without_password, operator),
            "TC_086_CSMS": await run_case(CASES["TC_086_CSMS"], without_password, operator),
        }
    assert {k: v.status for k, v in outcomes.items()} == dict.fromkeys(
        outcomes, CaseStatus.NOT_APPLICABLE
    )
    assert outcomes["TC_086_CSMS"].reason == "needs a wss:// URL (security profile 2 or 3)"


@pytest.mark.anyio
async def test_a_new_password_passes_on_to_the_next_cases(anyio_backend: str, pki: TestPki) -> None:
    async with deployed(anyio_backend, pki) as deployment:
        cs = deployment.central_system
        await register(cs, "CP1")
        config = suite_config(deployment, "CP1")
        results = await run_suite(
            config, InProcessOperator(cs), select_cases(["TC_073_CSMS", "TC_085_CSMS"])
        )
        # The old password is void now: on its own, the old settings fail.
        alone = await run_case(CASES["TC_085_CSMS"], config)
    assert [r.status for r in results] == [CaseStatus.PASSED] * 2, [report(r) for r in results]
    assert alone.status is CaseStatus.FAILED
    assert config.password == PASSWORD


@pytest.mark.anyio
async def test_a_person_can_be_the_operator(anyio_backend: str, pki: TestPki) -> None:
    printed = io.StringIO()
    async with deployed(anyio_backend, pki) as deployment:
        cs = deployment.central_system
        await register(cs, "CP1")

        async def person_at_the_console() -> None:
            while ">>> [CP1] Unlock connector 1" not in printed.getvalue():
                await anyio.sleep(0.01)
            await cs.core.unlock_connector("CP1", 1)

        async with anyio.create_task_group() as group:
            group.start_soon(person_at_the_console)
            config = suite_config(deployment, "CP1", operator_timeout=5.0)
            result = await run_case(CASES["TC_017_1_CSMS"], config, PromptingOperator(printed))
    assert result.status is CaseStatus.PASSED, report(result)


# -- the transport -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_refused_upgrade_carries_its_status(anyio_backend: str, pki: TestPki) -> None:
    async with deployed(anyio_backend, pki) as deployment:
        with pytest.raises(UpgradeRefused) as refused:
            await open_websocket(deployment.url.replace("/ocpp", "/elsewhere") + "/CP1")
    assert refused.value.status == 404
    with pytest.raises(UpgradeRefused) as unreachable:
        await open_websocket("ws://127.0.0.1:1/ocpp/CP1", timeout=2)
    assert unreachable.value.status == 0


# -- certificates --------------------------------------------------------------------------


@pytest.mark.parametrize("pem", [TEST_ROOT_1, TEST_ROOT_2])
@pytest.mark.parametrize("algorithm", list(HashAlgorithm))
def test_hash_data_is_the_ocsp_cert_id(pem: str, algorithm: HashAlgorithm) -> None:
    certificate = x509.load_pem_x509_certificate(pem.encode())
    digest = {"SHA256": hashes.SHA256(), "SHA384": hashes.SHA384(), "SHA512": hashes.SHA512()}
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(certificate, certificate, digest[algorithm.value])
        .build()
    )
    data = hash_data(certificate_facts(pem), None, algorithm)
    assert data.issuer_name_hash == request.issuer_name_hash.hex()
    assert data.issuer_key_hash == request.issuer_key_hash.hex()
    assert int(data.serial_number, 16) == certificate.serial_number
    assert same_hash_data(data, data)
    other = hash_data(certificate_facts(TEST_ROOT_2 if pem == TEST_ROOT_1 else TEST_ROOT_1))
    assert not same_hash_data(hash_data(certificate_facts(pem)), other)


def test_certificate_facts_read_key_sizes_and_names(pki: TestPki) -> None:
    ecdsa, rsa = (
        certificate_facts(server.cert_chain_pems[0].bytes().decode()) for server in pki.servers
    )
    assert (ecdsa.key_type, ecdsa.key_size) == ("EC", 256)
    assert (rsa.key_type, rsa.key_size) == ("RSA", 2048)
    assert ecdsa.subject_common_names == rsa.subject_common_names == ("127.0.0.1",)
    with pytest.raises(ValueError, match=r"not an X\.509 certificate"):
        certificate_facts(b"\x30\x03\x02\x01")


# -- the command line against the quickstart server ---------------------------------------


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``examples/quickstart.py`` serving on a free port; its base URL."""
    output = tmp_path_factory.mktemp("quickstart") / "stdout.txt"
    env = {**os.environ, "PYTHONPATH": str(SOURCE)}
    with output.open("w") as stdout:
        server = subprocess.Popen(
            [sys.executable, str(ROOT / "examples" / "quickstart.py"), "--port", "0"],
            stdout=stdout,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 30
        while not (found := re.search(r"(ws://127\.0\.0\.1:\d+/ocpp)", output.read_text())):
            assert server.poll() is None, output.read_text()
            assert time.monotonic() < deadline, "the quickstart server did not start"
            time.sleep(0.05)
        yield found.group(1) + "/"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_command_line_runs_the_suite_against_the_quickstart_server(quickstart: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ocpp16csms.testing.conformance",
            quickstart,
            "--charge-point-id",
            "CP-DEMO-1",
            "--id-tag",
            "DEMO-TAG",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": str(SOURCE)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["summary"] == {
        "passed": 13,
        "failed": 0,
        "needs operator": 58,
        "not applicable": 4,
    }
    statuses = {r["case"]: r["status"] for r in report["results"]}
    assert statuses["TC_001_CSMS"] == "passed"
    assert statuses["TC_046_CSMS"] == "needs operator"
    assert statuses["TC_086_CSMS"] == "not applicable"
    first = report["results"][0]
    assert first["validations"][0]["expectation"].startswith("The Central System upgrades")


def test_the_command_line_reports_a_failure_with_exit_status_1(quickstart: str) -> None:
    printed = io.StringIO()
    # The quickstart registers unknown charge points as Pending.
    argv = [quickstart, "--charge-point-id", "NEWCOMER", "--cases", "TC_001_CSMS,TC_013_CSMS"]
    assert main([*argv, "--timeout", "5"], output=printed) == 1
    lines = printed.getvalue().splitlines()
    assert lines[1].split()[:2] == ["TC_001_CSMS", "failed"]
    assert lines[1].endswith("Step 2 (BootNotification.conf): status is Accepted; got Pending")
    assert lines[2].startswith("TC_013_CSMS     needs operator")
    assert lines[-1] == "2 cases: 1 failed, 1 needs operator"


def test_the_command_line_refuses_unknown_cases(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["ws://127.0.0.1:1/ocpp", "--charge-point-id", "CP1", "--cases", "TC_999_CSMS"])
    assert exited.value.code == 2
    assert "unknown test case ids: TC_999_CSMS" in capsys.readouterr().err


def test_the_docs_table_lists_every_case_with_its_operator_column() -> None:
    text = (ROOT / "docs" / "conformance.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(TC_[0-9_]+_CSMS)` \|([^\n]*)$", text, flags=re.M)
    assert [case_id for case_id, _ in rows] == list(CASES)
    for case_id, rest in rows:
        cells = [cell.strip() for cell in rest.split("|")]
        case = CASES[case_id]
        assert cells[0] == case.section, case_id
        assert cells[1] == case.name, case_id
        assert cells[3] == ("yes" if case.needs_operator else "—"), case_id
