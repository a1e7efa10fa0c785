"""Shared fixtures: every async test runs on both asyncio and trio (anyio's pytest plugin).

Hypothesis settings come from one of three profiles, never from a test: ``fast`` (the default
on a developer's machine), ``ci`` (chosen when ``CI=true``) and ``nightly`` (a long run).
``HYPOTHESIS_PROFILE=nightly python -m pytest`` picks one by name.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

_RELAXED = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
settings.register_profile("fast", max_examples=25, deadline=None, suppress_health_check=_RELAXED)
settings.register_profile(
    "ci", max_examples=50, deadline=None, database=None, suppress_health_check=_RELAXED
)
settings.register_profile(
    "nightly", max_examples=2000, deadline=None, suppress_health_check=_RELAXED
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE")
    or ("ci" if os.environ.get("CI", "").lower() == "true" else "fast")
)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each ``@pytest.mark.anyio`` test once per backend."""
    return str(request.param)


# --- PostgreSQL (tests/_postgres.py) ----------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test parametrised with the PostgreSQL stores ``postgres`` (before ``-m``)."""
    import _postgres

    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and _postgres.uses_postgres(callspec.params, callspec.id):
            item.add_marker(pytest.mark.postgres)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") is not None:
        import _postgres

        _postgres.require()


def pytest_sessionfinish(session: pytest.Session) -> None:
    import _postgres

    _postgres.stop()
