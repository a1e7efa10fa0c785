"""Hypothesis strategies for the Plug & Charge (OCPP 2.0.1 inside DataTransfer) messages.

Built from the classes themselves (their annotated constraints), not from the schemas, so that
a round trip through :class:`~ocpp16csms.profiles.plug_and_charge.codec.PncCodec` also checks
that the classes and the schemas agree::

    @given(pnc_instances(AuthorizeRequest))
    def test_backend_authorizes(request): ...
"""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from functools import cache
from typing import Any, TypeVar, cast

import attrs
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from ..constraints import MaxItems, MaxLength, MinItems, constraints_of
from ..profiles.plug_and_charge.datatypes import CustomData
from ..profiles.plug_and_charge.messages import PNC_MESSAGES, PncMessage

__all__ = ["json_values", "pnc_instances", "pnc_message_classes"]

_T = TypeVar("_T")
_SHORT = 40
_MAX_LIST = 3
_INT = 2**31

_OFFSETS = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5, minutes=30))]
)


def json_values() -> SearchStrategy[Any]:
    """Small JSON values (what ``customData`` may hold besides its vendorId)."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(2**53), 2**53)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=12)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=6,
    )


def _custom_data() -> SearchStrategy[CustomData]:
    return st.builds(
        CustomData,
        vendor_id=_strings(255),
        extra=st.dictionaries(
            st.text(max_size=10).filter(lambda k: k != "vendorId"), json_values(), max_size=3
        ),
    )


def _strings(limit: int | None) -> SearchStrategy[str]:
    if limit is None:
        return st.text(max_size=_SHORT)
    # Mostly short text, sometimes a string exactly at the limit.
    return st.text(max_size=min(limit, _SHORT)) | st.just("x" * limit)


def _for_type(tp: Any) -> SearchStrategy[Any]:
    base, found, optional = constraints_of(tp)
    limits: dict[type, int] = {type(c): int(c.value) for c in found}
    if base is CustomData:
        value: SearchStrategy[Any] = _custom_data()
    elif base is str:
        value = _strings(limits.get(MaxLength))
    elif base is int:
        value = st.integers(-_INT, _INT - 1)
    elif base is datetime:
        value = st.datetimes(
            min_value=datetime(1970, 1, 2), max_value=datetime(2099, 12, 30), timezones=_OFFSETS
        )
    elif isinstance(base, type) and issubclass(base, Enum):
        value = st.sampled_from(list(base))
    elif typing.get_origin(base) is tuple:
        low = limits.get(MinItems, 0)
        high = limits.get(MaxItems, max(low, _MAX_LIST))
        value = st.lists(_for_type(typing.get_args(base)[0]), min_size=low, max_size=high).map(
            tuple
        )
    elif attrs.has(base):
        value = _instances(base)
    else:  # pragma: no cover - every field type of the Plug & Charge classes is handled above
        raise TypeError(f"no strategy for {tp!r}")
    return st.none() | value if optional else value


@cache
def _instances(cls: Any) -> SearchStrategy[Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return st.builds(cls, **{f.name: _for_type(hints[f.name]) for f in attrs.fields(cls)})


def pnc_instances(cls: type[_T]) -> SearchStrategy[_T]:
    """Valid instances of a Plug & Charge message or datatype (optional fields sometimes set)."""
    built: SearchStrategy[_T] = _instances(cast(Any, cls))
    return built


def pnc_message_classes() -> list[type[PncMessage]]:
    """The eighteen Plug & Charge request and response classes, in pairs."""
    return list(PNC_MESSAGES)
