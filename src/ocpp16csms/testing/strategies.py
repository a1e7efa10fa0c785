"""Hypothesis strategies for message instances (valid, typed), built on the schema strategies."""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from hypothesis.strategies import SearchStrategy

from ..converter import make_converter
from ..messages.base import Message
from ..registry import ACTIONS
from .schema_strategies import payloads

__all__ = ["instances", "message_classes"]

_M = TypeVar("_M", bound=Message)


@cache
def _converter() -> Any:
    return make_converter()


def instances(cls: type[_M]) -> SearchStrategy[_M]:
    """Valid instances of a request or response class (every optional field sometimes set)."""
    return payloads(cls.schema_name).map(lambda payload: _converter().structure(payload, cls))


def message_classes() -> list[type[Message]]:
    """All 78 request and response classes, in action order."""
    classes: list[type[Message]] = []
    for spec in ACTIONS.values():
        classes += [spec.request, spec.response]
    return classes
