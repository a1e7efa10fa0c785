"""``python -m ocpp16csms.testing.conformance URL --charge-point-id ID``: run the OCTT
conformance suite against any OCPP 1.6J central system (docs/conformance.md).

It prints one line per case (its id, its result and the first failed validation, or why it
did not run), or with ``--json`` the whole report; the exit status is 1 when a case failed,
2 for a usage error, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import anyio

from ...messages.base import Profile
from .certificates import ClientCertificate
from .model import CaseResult, CaseStatus, SuiteConfig
from .operators import NoOperator, Operator, PromptingOperator
from .runner import run_suite, select_cases

__all__ = ["build_parser", "format_result", "main", "report_json", "summary"]

_WIDTH = 16


def build_parser() -> argparse.ArgumentParser:
    """The command line's arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m ocpp16csms.testing.conformance",
        description="Run the OCTT OCPP 1.6 Central System test cases against a central system.",
    )
    parser.add_argument("url", help="the central system's base URL, e.g. ws://host:9000/ocpp/")
    parser.add_argument("--charge-point-id", required=True, help="an Accepted charge point id")
    parser.add_argument("--password", help="HTTP Basic password (security profiles 1 and 2)")
    parser.add_argument("--cases", help="comma-separated case ids (default: all)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--verbose", action="store_true", help="print every validation")
    parser.add_argument(
        "--interactive",
        action="store_true",
        help="print each manual action for a person to carry out in the central system",
    )
    parser.add_argument("--id-tag", default="OCTT-VALID", help="an id tag the CSMS accepts")
    parser.add_argument("--connector-id", type=int, default=1)
    parser.add_argument("--number-of-connectors", type=int, default=2)
    parser.add_argument(
        "--features",
        help="comma-separated feature profiles the central system offers (default: all of "
        + ", ".join(p.value for p in Profile)
        + ")",
    )
    parser.add_argument("--ca", type=Path, help="PEM file of the CA to trust for wss://")
    parser.add_argument("--client-certificate", type=Path, help="PEM certificate chain")
    parser.add_argument("--client-key", type=Path, help="PEM private key (profile 3)")
    parser.add_argument("--root-certificate", type=Path, help="PEM root to install (TC_075)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per answer")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    return parser


def _config(args: argparse.Namespace, parser: argparse.ArgumentParser) -> SuiteConfig:
    certificate = None
    if (args.client_certificate is None) != (args.client_key is None):
        parser.error("--client-certificate and --client-key go together")
    if args.client_certificate is not None:
        certificate = ClientCertificate(
            certificate_chain_pem=args.client_certificate.read_text(encoding="ascii"),
            private_key_pem=args.client_key.read_text(encoding="ascii"),
        )
    features = frozenset(Profile)
    if args.features:
        try:
            features = frozenset(Profile(name.strip()) for name in args.features.split(","))
        except ValueError as error:
            parser.error(str(error))
    try:
        return SuiteConfig(
            url=args.url,
            charge_point_id=args.charge_point_id,
            password=args.password,
            ca_pem=args.ca.read_text(encoding="ascii") if args.ca else None,
            client_certificate=certificate,
            features={*features, Profile.CORE},
            valid_id_tag=args.id_tag,
            connector_id=args.connector_id,
            number_of_connectors=args.number_of_connectors,
            root_certificate_pem=(
                args.root_certificate.read_text(encoding="ascii") if args.root_certificate else None
            ),
            timeout=args.timeout,
            operator_timeout=300.0 if args.interactive else None,
        )
    except ValueError as error:
        parser.error(str(error))


def format_result(result: CaseResult, *, verbose: bool = False) -> str:
    """One line of the table: case id, result, and the first failed validation or reason."""
    line = f"{result.case_id:<{_WIDTH}}{result.status.value:<{_WIDTH}}{result.reason}".rstrip()
    if verbose:
        line += "".join(f"\n    {'ok  ' if v.passed else 'FAIL'} {v}" for v in result.validations)
    return line


def summary(results: Sequence[CaseResult]) -> dict[str, int]:
    """How many cases ended in each status."""
    counts = Counter(result.status for result in results)
    return {status.value: counts.get(status, 0) for status in CaseStatus}


def report_json(config: SuiteConfig, results: Sequence[CaseResult]) -> str:
    """The whole report as JSON (``--json``)."""
    return json.dumps(
        {
            "url": config.url,
            "charge_point_id": config.charge_point_id,
            "summary": summary(results),
            "results": [result.as_dict() for result in results],
        },
        indent=2,
    )


def main(argv: Sequence[str] | None = None, output: TextIO | None = None) -> int:
    """Run the suite as the command line asks; return the exit status."""
    out = output or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    config = _config(args, parser)
    try:
        cases = select_cases(args.cases.split(",")) if args.cases else select_cases()
    except KeyError as error:
        parser.error(str(error.args[0]))
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    operator: Operator = PromptingOperator() if args.interactive else NoOperator()

    def show(result: CaseResult) -> None:
        if not args.json:
            print(format_result(result, verbose=args.verbose), file=out, flush=True)

    if not args.json:
        print(f"{'case':<{_WIDTH}}{'result':<{_WIDTH}}first failed validation / reason", file=out)
    results = anyio.run(
        lambda: run_suite(config, operator, cases, on_result=show), backend=args.backend
    )
    if args.json:
        print(report_json(config, results), file=out)
    else:
        counts = ", ".join(f"{n} {status}" for status, n in summary(results).items() if n)
        print(f"{len(results)} cases: {counts}", file=out)
    return 1 if any(r.status is CaseStatus.FAILED for r in results) else 0
