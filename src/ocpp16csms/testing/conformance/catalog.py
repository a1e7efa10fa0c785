"""The case registry: every OCTT 1.6 Central System test case, in the document's order."""

from __future__ import annotations

from types import MappingProxyType

from .case import ConformanceCase
from .cases_connection import PASSWORD_CASES, TLS_CASES
from .cases_core import CORE_CASES
from .cases_faults import DATA_TRANSFER_CASES, FAULT_CASES
from .cases_management import FIRMWARE_CASES, LOCAL_LIST_CASES, REMOTE_TRIGGER_CASES
from .cases_operations import OPERATION_CASES
from .cases_reservation import RESERVATION_CASES
from .cases_security import SECURITY_CASES
from .cases_smart_charging import SMART_CHARGING_CASES

__all__ = ["CASES"]

_GROUPS = (
    CORE_CASES,  # §3.1–§3.4
    OPERATION_CASES,  # §3.5–§3.7
    FAULT_CASES,  # §3.8–§3.13
    LOCAL_LIST_CASES,  # §3.14
    FIRMWARE_CASES,  # §3.15–§3.16
    RESERVATION_CASES,  # §3.17
    REMOTE_TRIGGER_CASES,  # §3.18
    SMART_CHARGING_CASES,  # §3.19
    DATA_TRANSFER_CASES,  # §3.20
    PASSWORD_CASES,  # §3.21
    SECURITY_CASES,
    TLS_CASES,
)

CASES: MappingProxyType[str, ConformanceCase] = MappingProxyType(
    {case.case_id: case for group in _GROUPS for case in group}
)
"""Case id (``"TC_001_CSMS"``) → :class:`ConformanceCase`, in the document's order."""
