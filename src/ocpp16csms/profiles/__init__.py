"""Typed OCPP 1.6 messages, grouped by feature profile."""

from .core import *  # noqa: F403
from .core import __all__ as _core
from .firmware import *  # noqa: F403
from .firmware import __all__ as _firmware
from .local_auth_list import *  # noqa: F403
from .local_auth_list import __all__ as _local_auth_list
from .remote_trigger import *  # noqa: F403
from .remote_trigger import __all__ as _remote_trigger
from .reservation import *  # noqa: F403
from .reservation import __all__ as _reservation
from .security import *  # noqa: F403
from .security import __all__ as _security
from .smart_charging import *  # noqa: F403
from .smart_charging import __all__ as _smart_charging

__all__ = [
    *_core,
    *_firmware,
    *_local_auth_list,
    *_remote_trigger,
    *_reservation,
    *_security,
    *_smart_charging,
]
