"""Checks made when a handler or hook is registered, so a wrong one fails there, not on
every call (docs/central-system.md)."""

from __future__ import annotations

import inspect
from typing import Any

from .messages.base import Request, Response

__all__ = ["check_handler", "check_request_type"]


def check_request_type(request_type: Any, what: str) -> None:
    """Refuse what is not a request class (a response class is named as such)."""
    if isinstance(request_type, type) and issubclass(request_type, Response):
        raise TypeError(
            f"{what}: {request_type.__name__} is a response; name the request it answers"
        )
    if not (isinstance(request_type, type) and issubclass(request_type, Request)):
        raise TypeError(
            f"{what} takes a request class (such as AuthorizeRequest), got {request_type!r}"
        )


def check_handler(request_type: type[Any], handler: Any, *, arity: int, what: str) -> None:
    """Refuse, at registration, a handler that would fail on every call."""
    check_request_type(request_type, what)
    if not callable(handler):
        raise TypeError(f"{what}: {handler!r} is not callable")
    function = handler.__call__ if not inspect.isroutine(handler) else handler
    if what != "after" and not inspect.iscoroutinefunction(function):
        raise TypeError(
            f"{what}: {getattr(handler, '__qualname__', handler)!r} must be an async function"
            f" (async def … (request, context))"
        )
    try:
        signature = inspect.signature(handler)
        signature.bind(*([None] * arity))
    except TypeError:
        raise TypeError(
            f"{what}: {getattr(handler, '__qualname__', handler)!r} must take {arity} "
            f"positional arguments"
        ) from None
    except ValueError:  # pragma: no cover - builtins without a signature
        return
