"""A test case: one OCTT Central System test case as an executable scenario.

A case is one test case of the OCA's "Test case document OCTT for OCPP 1.6" (section 3,
System Under Test: Central System), named by its id (``TC_001_CSMS``); its scenario is an
async function of a :class:`~ocpp16csms.testing.conformance.tool.Tool`, which plays the
tool's charge point.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs

from ...messages.base import Profile
from .model import Need
from .tool import Tool

__all__ = ["ConformanceCase", "Scenario", "conformance_case"]

Scenario = Callable[[Tool], Awaitable[None]]
"""A case's scenario: ``async def scenario(tool) -> None``."""


@attrs.frozen(kw_only=True)
class ConformanceCase:
    """One OCTT Central System test case, as an executable scenario."""

    case_id: str
    name: str
    section: str
    """The document's section (``"3.2.1"``)."""
    checks: str
    """What it checks, in one line (docs/conformance.md)."""
    scenario: Scenario = attrs.field(repr=False)
    feature: Profile = Profile.CORE
    needs: frozenset[Need] = frozenset()

    @property
    def needs_operator(self) -> bool:
        """Whether a step asks the central system to act on command."""
        return Need.OPERATOR in self.needs


def conformance_case(
    case_id: str,
    name: str,
    *,
    section: str,
    checks: str,
    feature: Profile = Profile.CORE,
    needs: tuple[Need, ...] = (),
) -> Callable[[Scenario], ConformanceCase]:
    """Decorator: make a scenario function the :class:`ConformanceCase` ``case_id``."""

    def build(scenario: Scenario) -> ConformanceCase:
        return ConformanceCase(
            case_id=case_id,
            name=name,
            section=section,
            checks=checks,
            scenario=scenario,
            feature=feature,
            needs=frozenset(needs),
        )

    return build
