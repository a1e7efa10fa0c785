"""The one map from action name to its request class, response class, direction and profile."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from . import messages
from .messages.base import Direction, Profile, Request, Response

__all__ = ["ACTIONS", "ActionSpec", "action_spec"]


@attrs.frozen
class ActionSpec:
    """What the library knows about one OCPP action."""

    action: str
    request: type[Request[Any]]
    response: type[Response]
    direction: Direction
    profile: Profile
    #: True when a charge point may send this action's request.
    sent_by_charge_point: bool = attrs.field(init=False, eq=False)
    #: True when the central system may send this action's request.
    sent_by_central_system: bool = attrs.field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        # Plain attributes, not properties: the session reads one for every frame.
        direction = self.direction
        object.__setattr__(
            self, "sent_by_charge_point", direction is not Direction.CENTRAL_SYSTEM_TO_CHARGE_POINT
        )
        object.__setattr__(
            self,
            "sent_by_central_system",
            direction is not Direction.CHARGE_POINT_TO_CENTRAL_SYSTEM,
        )


def _build() -> dict[str, ActionSpec]:
    specs: dict[str, ActionSpec] = {}
    for name in messages.__all__:
        cls = getattr(messages, name)
        if isinstance(cls, type) and issubclass(cls, Request) and "action" in vars(cls):
            specs[cls.action] = ActionSpec(
                cls.action, cls, cls.response_type, cls.direction, cls.profile
            )
    return dict(sorted(specs.items()))


ACTIONS: Mapping[str, ActionSpec] = MappingProxyType(_build())
"""Every OCPP 1.6J action (the 28 of OCPP 1.6 and the 11 of the security whitepaper)."""


def action_spec(action: str) -> ActionSpec | None:
    """The :class:`ActionSpec` of ``action``, or None when the action is unknown."""
    return ACTIONS.get(action)
