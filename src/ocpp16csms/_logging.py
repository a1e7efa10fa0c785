"""Loggers that put the charge point id and message id on every record about a message.

The central system sets the context while it handles a CALL or waits for an answer; a filter
on each of the library's loggers copies it onto records (``record.charge_point_id``,
``record.message_id``) that do not carry them already, so handlers and services log with it
without passing ``extra`` each time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["get_logger", "message_context"]

_CONTEXT: ContextVar[tuple[str | None, str | None]] = ContextVar(
    "ocpp16csms_message_context", default=(None, None)
)


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


@contextmanager
def message_context(charge_point_id: str | None, message_id: str | None) -> Iterator[None]:
    """Records logged inside the block (and tasks started in it) carry these ids."""
    token = _CONTEXT.set((charge_point_id, message_id))
    try:
        yield
    finally:
        _CONTEXT.reset(token)
