"""Shared fixtures: every async test runs on both asyncio and trio (anyio's pytest plugin)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci")


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
