"""Loggers that put the charge point id and message id on every record about a message.

The central system sets the context while it handles a CALL or waits for an answer; a filter
on each of the library's loggers copies it onto records (``record.charge_point_id``,
``record.message_id``) that do not carry them already, so handlers and services log with it
without passing ``extra`` each time.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar, Token

__all__ = ["MESSAGE_IDS", "get_logger", "message_context"]

_CONTEXT: ContextVar[tuple[str | None, str | None]] = ContextVar(
    "ocpp16csms_message_context", default=(None, None)
)
#: ``(charge_point_id, message_id)`` of the message being handled; set and reset it around
#: the handling (what :class:`message_context` does), for paths that run per message.
MESSAGE_IDS = _CONTEXT


class _MessageContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        charge_point_id, message_id = _CONTEXT.get()
        if getattr(record, "charge_point_id", None) is None:
            record.charge_point_id = charge_point_id
        if getattr(record, "message_id", None) is None:
            record.message_id = message_id
        return True


_FILTER = _MessageContextFilter()


def get_logger(name: str) -> logging.Logger:
    """The standard logger ``name``, with the message context filter attached once."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


class message_context:
    """Records logged inside the block (and tasks started in it) carry these ids.

    A plain class rather than a generator context manager: it runs for every message.
    """

    __slots__ = ("_ids", "_token")

    def __init__(self, charge_point_id: str | None, message_id: str | None) -> None:
        self._ids = (charge_point_id, message_id)
        self._token: Token[tuple[str | None, str | None]] | None = None

    def __enter__(self) -> None:
        self._token = _CONTEXT.set(self._ids)

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _CONTEXT.reset(self._token)
