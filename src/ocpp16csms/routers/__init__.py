"""Call routers: reach charge points served by other processes (docs/scaling.md).

The NATS router itself is :class:`ocpp16csms.routers.nats.NatsRouter` (extra ``nats``); what
is here needs no extra: the subjects a cluster uses and the errors a routed call adds.
"""

from .envelope import ClusterUnavailable, RoutedCallFailed
from .subjects import Subjects, charge_point_from_token, subject_token

__all__ = [
    "ClusterUnavailable",
    "RoutedCallFailed",
    "Subjects",
    "charge_point_from_token",
    "subject_token",
]
