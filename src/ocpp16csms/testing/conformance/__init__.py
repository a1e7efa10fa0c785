"""The OCTT conformance suite: every OCPP 1.6 Central System test case of the OCA's test
case document, as an executable scenario (docs/conformance.md).

The suite plays the tool's charge point over a real WebSocket (extra ``websockets``) against
any OCPP 1.6J central system, and drives the central system's manual actions through an
:class:`Operator`. From the command line::

    python -m ocpp16csms.testing.conformance ws://host:9000/ocpp --charge-point-id CP1

In code::

    config = SuiteConfig(url="ws://127.0.0.1:9000/ocpp", charge_point_id="CP1")
    results = await run_suite(config, InProcessOperator(central_system))
"""

from .case import ConformanceCase
from .catalog import CASES
from .certificates import ClientCertificate
from .in_process import InProcessOperator
from .model import (
    CaseResult,
    CaseStatus,
    Need,
    NeedsOperator,
    NotApplicable,
    SuiteConfig,
    Validation,
    ValidationFailed,
)
from .operators import NoOperator, Operator, PromptingOperator
from .runner import run_case, run_suite, select_cases
from .tool import Tool

__all__ = [
    "CASES",
    "CaseResult",
    "CaseStatus",
    "ClientCertificate",
    "ConformanceCase",
    "InProcessOperator",
    "Need",
    "NeedsOperator",
    "NoOperator",
    "NotApplicable",
    "Operator",
    "PromptingOperator",
    "SuiteConfig",
    "Tool",
    "Validation",
    "ValidationFailed",
    "run_case",
    "run_suite",
    "select_cases",
]
