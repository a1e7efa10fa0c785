"""Running cases: one connection per case, the result of each as a :class:`CaseResult`."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Iterable

import anyio
import attrs

from ..._logging import get_logger
from .case import ConformanceCase
from .catalog import CASES
from .model import (
    CaseResult,
    CaseStatus,
    Need,
    NeedsOperator,
    NotApplicable,
    SuiteConfig,
    ValidationFailed,
)
from .operators import NoOperator, Operator
from .tool import Tool

__all__ = ["missing_prerequisite", "run_case", "run_suite", "select_cases"]

log = get_logger("ocpp16csms.testing.conformance")


def select_cases(case_ids: Iterable[str] | None = None) -> list[ConformanceCase]:
    """The cases named (in the document's order), or all; ``KeyError`` for an unknown id."""
    if case_ids is None:
        return list(CASES.values())
    wanted = {case_id.strip().upper() for case_id in case_ids if case_id.strip()}
    unknown = wanted - set(CASES)
    if unknown:
        raise KeyError(f"unknown test case ids: {', '.join(sorted(unknown))}")
    return [case for case in CASES.values() if case.case_id in wanted]


def missing_prerequisite(
    case: ConformanceCase, config: SuiteConfig, operator: Operator
) -> tuple[CaseStatus, str] | None:
    """Why ``case`` cannot run with these settings, or None when it can."""
    if case.feature not in config.features:
        return CaseStatus.NOT_APPLICABLE, f"the central system does not offer {case.feature}"
    secure = config.url.startswith("wss://")
    if Need.TLS in case.needs and not secure:
        return CaseStatus.NOT_APPLICABLE, "needs a wss:// URL (security profile 2 or 3)"
    if Need.CLIENT_CERTIFICATE in case.needs and (not secure or not config.client_certificate):
        return CaseStatus.NOT_APPLICABLE, "needs a TLS client certificate (security profile 3)"
    if Need.PASSWORD in case.needs and config.password is None:
        return CaseStatus.NOT_APPLICABLE, "needs a Basic auth password (security profile 1/2)"
    if Need.CRYPTOGRAPHY in case.needs and importlib.util.find_spec("cryptography") is None:
        return CaseStatus.NOT_APPLICABLE, "needs the cryptography package"
    if case.needs_operator and type(operator) is NoOperator:
        return CaseStatus.NEEDS_OPERATOR, "the central system must act on command (no driver)"
    return None


def _unwrap(error: BaseException) -> BaseException:
    """The first meaningful exception inside (nested) exception groups."""
    while isinstance(error, BaseExceptionGroup):
        for kind in (ValidationFailed, NeedsOperator, NotApplicable):
            matched, _ = error.split(kind)
            if matched is not None:
                error = matched
                break
        else:
            error = error.exceptions[0]
    return error


async def run_case(
    case: ConformanceCase, config: SuiteConfig, operator: Operator | None = None
) -> CaseResult:
    """Run one case against the central system at ``config.url``."""
    result, _ = await _run(case, config, operator)
    return result


async def _run(
    case: ConformanceCase, config: SuiteConfig, operator: Operator | None
) -> tuple[CaseResult, Tool | None]:
    operator = operator if operator is not None else NoOperator()
    skipped = missing_prerequisite(case, config, operator)
    if skipped is not None:
        result = CaseResult(
            case_id=case.case_id, name=case.name, status=skipped[0], reason=skipped[1]
        )
        return result, None
    tool = Tool(config, operator)
    started = time.monotonic()
    status, reason = CaseStatus.PASSED, ""
    try:
        with anyio.fail_after(config.case_timeout):
            try:
                await case.scenario(tool)
            finally:
                # In the same cancel scope as the scenario, which opened the connection.
                await tool.aclose()
    except BaseException as raised:
        error = _unwrap(raised)
        if isinstance(error, ValidationFailed):
            status, reason = CaseStatus.FAILED, str(error)
        elif isinstance(error, NeedsOperator):
            status, reason = CaseStatus.NEEDS_OPERATOR, str(error)
        elif isinstance(error, NotApplicable):
            status, reason = CaseStatus.NOT_APPLICABLE, str(error)
        elif isinstance(error, TimeoutError):
            status, reason = CaseStatus.FAILED, f"timed out after {config.case_timeout:g} s"
        elif isinstance(error, Exception):
            log.exception("[%s] %s: the tool failed", config.charge_point_id, case.case_id)
            status, reason = CaseStatus.FAILED, f"tool error: {type(error).__name__}: {error}"
        else:
            raise
    result = CaseResult(
        case_id=case.case_id,
        name=case.name,
        status=status,
        reason=reason,
        validations=tuple(tool.validations),
        duration=time.monotonic() - started,
    )
    return result, tool


async def run_suite(
    config: SuiteConfig,
    operator: Operator | None = None,
    cases: Iterable[ConformanceCase] | None = None,
    *,
    on_result: Callable[[CaseResult], object] | None = None,
) -> list[CaseResult]:
    """Run ``cases`` (default: every case) one after the other, in the document's order.

    A case that changes the charge point's Basic auth password (TC_073_CSMS) passes it on
    to the cases after it. ``on_result`` sees each result as it comes.
    """
    results = []
    for case in select_cases() if cases is None else cases:
        result, tool = await _run(case, config, operator)
        if tool is not None and tool.password != config.password:
            # The central system gave the charge point a new password; the old one is void.
            config = attrs.evolve(config, password=tool.password)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
