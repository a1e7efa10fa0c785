"""Local Auth List Management (§5.10, §5.15): messages, the pure list diffing and update
planning, the local list store, and the service."""

from ...messages.local_auth_list import (
    GetLocalListVersionRequest,
    GetLocalListVersionResponse,
    SendLocalListRequest,
    SendLocalListResponse,
)
from .diff import (
    LocalListError,
    LocalListPlan,
    apply_send_local_list,
    diff_local_list,
    plan_local_list_update,
)
from .service import (
    LocalAuthListService,
    LocalListSyncOutcome,
    LocalListSyncResult,
)
from .store import (
    LocalListState,
    LocalListStore,
    MemoryLocalListStore,
)

__all__ = [
    "GetLocalListVersionRequest",
    "GetLocalListVersionResponse",
    "LocalAuthListService",
    "LocalListError",
    "LocalListPlan",
    "LocalListState",
    "LocalListStore",
    "LocalListSyncOutcome",
    "LocalListSyncResult",
    "MemoryLocalListStore",
    "SendLocalListRequest",
    "SendLocalListResponse",
    "apply_send_local_list",
    "diff_local_list",
    "plan_local_list_update",
]
