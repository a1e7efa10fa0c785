"""Call routers: reach charge points served by other processes (docs/scaling.md).

The NATS router itself is :class:`ocpp16csms.routers.nats.NatsRouter` (extra ``nats``); what
is here needs no extra: the subjects a cluster uses, the errors a routed call adds, and both
ends of a routed call for a router over another message engine.
"""

from .calls import answer_routed_call, in_routed_call, structure_response
from .envelope import ClusterUnavailable, RoutedCallFailed
from .subjects import Subjects, charge_point_from_token, subject_token

__all__ = [
    "ClusterUnavailable",
    "RoutedCallFailed",
    "Subjects",
    "answer_routed_call",
    "charge_point_from_token",
    "in_routed_call",
    "structure_response",
    "subject_token",
]
