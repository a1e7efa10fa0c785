"""A real PostgreSQL server for the tests: one per test session, a fresh database per use.

The server is a throwaway cluster from the ``pgserver`` package (PostgreSQL binaries installed
by pip; as root it runs the server as an unprivileged ``pgserver`` user, since PostgreSQL
refuses to run as root), started on first use and stopped when the session ends. Set
``OCPP16CSMS_TEST_POSTGRES_DSN`` to a superuser connection string to use another server instead.

Each :func:`postgresql_stores_for_tests` call yields PostgreSQL stores over an empty database
of their own, made from a template that already holds the migrated schema, and empties it for
the next call when done.
Tests that use the server carry the ``postgres`` marker (``conftest.py`` adds it to every test
parametrised with these stores): without a server they are skipped with the reason, or fail
when ``CI=true``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator
from typing import Any

__all__ = [
    "ENV_DSN",
    "PostgresUnavailable",
    "drop_database",
    "fresh_database",
    "postgresql_stores_for_tests",
    "require",
    "server_dsn",
    "stop",
    "uses_postgres",
]

ENV_DSN = "OCPP16CSMS_TEST_POSTGRES_DSN"
_TEMPLATE = "ocpp16csms_template"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be started or reached."""


class _Session:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.server: Any = None  # the pgserver handle, when we started one
        self.admin_dsn: str | None = None
        self.error: str | None = None
        self.counter = itertools.count(1)
        self.free: list[tuple[str, str]] = []  # emptied databases, ready for the next test
        self.reset_sql: str | None = None


_SESSION = _Session()


def _dsn_for(admin_dsn: str, dbname: str) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(admin_dsn, dbname=dbname)


def _start() -> str:
    external = os.environ.get(ENV_DSN)
    if external:
        return external
    try:
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset (as for root).
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError as exc:
        raise PostgresUnavailable(f"pgserver is not installed ({exc})") from exc
    pgdata = tempfile.mkdtemp(prefix="ocpp16csms-pg-")
    try:
        server = pgserver.get_server(pgdata, cleanup_mode="delete")
    except Exception as exc:
        raise PostgresUnavailable(f"pgserver could not start PostgreSQL: {exc!r}") from exc
    _SESSION.server = server
    return str(server.get_uri())


def _prepare(admin_dsn: str) -> None:
    import psycopg

    from ocpp16csms.stores.postgresql._schema import migrate

    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        if _SESSION.server is not None:
            # A throwaway cluster: durability against a server crash is not what the tests
            # check (a killed client is), so skip the flushes.
            admin.execute("ALTER SYSTEM SET fsync = off")
            admin.execute("ALTER SYSTEM SET full_page_writes = off")
            admin.execute("ALTER SYSTEM SET synchronous_commit = off")
            admin.execute("SELECT pg_reload_conf()")
        admin.execute(f"DROP DATABASE IF EXISTS {_TEMPLATE}")
        admin.execute(f"CREATE DATABASE {_TEMPLATE}")
    with psycopg.connect(_dsn_for(admin_dsn, _TEMPLATE), autocommit=True) as template:
        migrate(template)


def server_dsn() -> str:
    """The superuser connection string of the session's server; start it on first call."""
    with _SESSION.lock:
        if _SESSION.admin_dsn is not None:
            return _SESSION.admin_dsn
        if _SESSION.error is not None:
            raise PostgresUnavailable(_SESSION.error)
        try:
            dsn = _start()
            _prepare(dsn)
        except Exception as exc:
            _SESSION.error = str(exc) if isinstance(exc, PostgresUnavailable) else repr(exc)
            raise PostgresUnavailable(_SESSION.error) from exc
        _SESSION.admin_dsn = dsn
        return dsn


def require() -> None:
    """Skip the calling test without a server, with the reason; fail instead when CI=true."""
    import pytest

    try:
        server_dsn()
    except PostgresUnavailable as exc:
        message = f"no PostgreSQL server for the tests: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def fresh_database(*, migrated: bool = True) -> tuple[str, str]:
    """Create an empty database (holding the current schema when ``migrated``); return its
    connection string and name."""
    import psycopg

    admin_dsn = server_dsn()
    name = f"ocpp16csms_test_{os.getpid()}_{next(_SESSION.counter)}"
    template = f" TEMPLATE {_TEMPLATE}" if migrated else ""
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        if admin.info.server_version >= 150000:
            # Copying the (small) template's files is several times faster than WAL-logging
            # each of its pages, PostgreSQL 15's default.
            template += " STRATEGY FILE_COPY"
        admin.execute(f"CREATE DATABASE {name}{template}")
    return _dsn_for(admin_dsn, name), name


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(server_dsn(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _reset_sql(dsn: str) -> str:
    """One batch emptying every table of the schema and restarting every sequence."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        tables = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'schema_version' ORDER BY tablename"
        ).fetchall()
        sequences = connection.execute(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
            " ORDER BY sequencename"
        ).fetchall()
    statements = [f"DELETE FROM {name}" for (name,) in tables]
    statements += [f"ALTER SEQUENCE {name} RESTART" for (name,) in sequences]
    return "; ".join(statements)


@contextlib.contextmanager
def postgresql_stores_for_tests() -> Iterator[Any]:
    """PostgreSQL stores over an empty database of their own; closed afterwards.

    Creating a database costs about 0.1 to 0.3 s here (a copy of the template's catalogs),
    so a database is emptied (every row deleted, every sequence restarted) and handed to the
    next call rather than dropped: the property tests open one per example.
    """
    import psycopg

    from ocpp16csms.stores.postgresql import postgresql_stores

    with _SESSION.lock:
        reused = _SESSION.free.pop() if _SESSION.free else None
    dsn, name = reused if reused is not None else fresh_database()
    stores = postgresql_stores(dsn, pool_size=4)
    try:
        with contextlib.closing(stores):
            yield stores
    except BaseException:
        drop_database(name)
        raise
    with _SESSION.lock:
        if _SESSION.reset_sql is None:
            _SESSION.reset_sql = _reset_sql(dsn)
        reset_sql = _SESSION.reset_sql
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(reset_sql.encode())
    with _SESSION.lock:
        _SESSION.free.append((dsn, name))


def uses_postgres(params: dict[str, Any], test_id: str) -> bool:
    """Whether a test's parameters select the PostgreSQL stores: a parameter is
    ``"postgresql"`` or this module's factory, or the test id has a ``postgresql`` part."""
    return "postgresql" in test_id.split("-") or any(
        value == "postgresql" or value is postgresql_stores_for_tests for value in params.values()
    )


def stop() -> None:
    """Stop the server this session started, if any (and remove its files)."""
    with _SESSION.lock:
        server, _SESSION.server = _SESSION.server, None
        _SESSION.admin_dsn = None
        _SESSION.free.clear()
    if server is not None:
        server.cleanup()
