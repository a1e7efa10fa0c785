"""The PostgreSQL schema as ordered migrations, applied in place on open.

``schema_version`` holds one row per migration applied. :func:`migrate` takes a transaction-level
advisory lock first, so processes starting together apply each migration once: the others wait,
then find it applied. A migration is its statements in one transaction (PostgreSQL DDL is
transactional), recorded in the same transaction: kept whole or not at all. A database at a
version higher than this module knows (written by a newer release) is refused.
"""

from __future__ import annotations

from typing import Any

import psycopg

from ...profiles.reservation.lifecycle import LIVE_STATES
from ..records import StoreError

__all__ = ["LATEST_VERSION", "LIVE_STATES_SQL", "LOCK_KEY", "MIGRATIONS", "migrate"]

LOCK_KEY = int.from_bytes(b"ocpp16cs", "big")
"""The advisory lock key migrations hold (64-bit; other advisory locks of the stores use the
separate two-key space)."""

LIVE_STATES_SQL = ", ".join(f"'{state.value}'" for state in sorted(LIVE_STATES))
"""The live reservation states as SQL literals: the partial index and the query for due
reservations use this same text, so the planner can use the index."""

# Version 1: the seven stores of the Stores bundle.
_V1 = (
    """CREATE TABLE charge_points (
        charge_point_id text PRIMARY KEY,
        registration_status text,
        security_profile smallint NOT NULL,
        password_hash text,
        boot text,
        last_boot_at timestamptz,
        last_boot_at_offset interval,
        last_seen timestamptz,
        last_seen_offset interval
    )""",
    """CREATE TABLE connector_statuses (
        charge_point_id text NOT NULL,
        connector_id bigint NOT NULL,
        status text NOT NULL,
        error_code text NOT NULL,
        "timestamp" timestamptz NOT NULL,
        timestamp_offset interval NOT NULL,
        info text,
        vendor_id text,
        vendor_error_code text,
        PRIMARY KEY (charge_point_id, connector_id)
    )""",
    """CREATE TABLE id_tags (
        id_tag_key text PRIMARY KEY,
        id_tag text NOT NULL,
        status text NOT NULL,
        expiry_date timestamptz,
        expiry_date_offset interval,
        parent_id_tag text
    )""",
    # Ids from an identity: unique across processes, never handed out twice (also not after a
    # rollback or a crash), and PostgreSQL itself refuses to pass 2**31-1.
    """CREATE TABLE transactions (
        transaction_id bigint GENERATED ALWAYS AS IDENTITY
            (MINVALUE 1 MAXVALUE 2147483647 NO CYCLE) PRIMARY KEY,
        charge_point_id text NOT NULL,
        connector_id bigint NOT NULL,
        id_tag text NOT NULL,
        id_tag_key text NOT NULL,
        meter_start bigint NOT NULL,
        start_timestamp timestamptz NOT NULL,
        start_timestamp_offset interval NOT NULL,
        reservation_id bigint,
        id_tag_status text NOT NULL,
        meter_stop bigint,
        stop_timestamp timestamptz,
        stop_timestamp_offset interval,
        stop_reason text,
        stop_id_tag text,
        CONSTRAINT transactions_start_key
            UNIQUE (charge_point_id, connector_id, id_tag_key, meter_start, start_timestamp)
    )""",
    """CREATE INDEX transactions_active_by_charge_point
        ON transactions (charge_point_id) WHERE stop_timestamp IS NULL""",
    """CREATE INDEX transactions_active_by_id_tag
        ON transactions (id_tag_key) WHERE stop_timestamp IS NULL""",
    """CREATE TABLE meter_values (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        charge_point_id text NOT NULL,
        connector_id bigint NOT NULL,
        transaction_id bigint,
        "timestamp" timestamptz NOT NULL,
        meter_value text NOT NULL,
        value_sha256 bytea NOT NULL
    )""",
    # Once per place. NULL transaction ids are distinct in a unique index (before PostgreSQL
    # 15's NULLS NOT DISTINCT), so it holds "is NULL" and the id with NULL as 0.
    """CREATE UNIQUE INDEX meter_values_once_per_place ON meter_values (
        charge_point_id, connector_id, (transaction_id IS NULL), (coalesce(transaction_id, 0)),
        value_sha256
    )""",
    """CREATE INDEX meter_values_by_transaction
        ON meter_values (charge_point_id, transaction_id, seq)""",
    """CREATE TABLE configuration (
        seq bigint GENERATED ALWAYS AS IDENTITY,
        charge_point_id text NOT NULL,
        key text NOT NULL,
        readonly boolean NOT NULL,
        value text,
        PRIMARY KEY (charge_point_id, key)
    )""",
    """CREATE TABLE local_lists (
        charge_point_id text PRIMARY KEY,
        version bigint NOT NULL,
        entries text NOT NULL
    )""",
    """CREATE TABLE reservations (
        charge_point_id text NOT NULL,
        reservation_id bigint NOT NULL,
        connector_id bigint NOT NULL,
        id_tag text NOT NULL,
        parent_id_tag text,
        expiry_date timestamptz NOT NULL,
        expiry_date_offset interval NOT NULL,
        status text NOT NULL,
        requested_at timestamptz NOT NULL,
        requested_at_offset interval NOT NULL,
        updated_at timestamptz NOT NULL,
        updated_at_offset interval NOT NULL,
        transaction_id bigint,
        PRIMARY KEY (charge_point_id, reservation_id)
    )""",
    f"""CREATE INDEX reservations_live_by_expiry
        ON reservations (expiry_date) WHERE status IN ({LIVE_STATES_SQL})""",
    """CREATE TABLE charging_profiles (
        charge_point_id text NOT NULL,
        charging_profile_id bigint NOT NULL,
        connector_id bigint NOT NULL,
        purpose text NOT NULL,
        stack_level bigint NOT NULL,
        transaction_id bigint,
        profile text NOT NULL,
        PRIMARY KEY (charge_point_id, charging_profile_id),
        UNIQUE (charge_point_id, connector_id, purpose, stack_level)
    )""",
)

# Version 2: the device-state store.
_V2 = (
    """CREATE TABLE transfer_requests (
        charge_point_id text NOT NULL,
        kind text NOT NULL,
        request_id bigint,
        location text NOT NULL,
        requested_at timestamptz NOT NULL,
        requested_at_offset interval NOT NULL,
        retrieve_date timestamptz,
        retrieve_date_offset interval,
        install_date timestamptz,
        install_date_offset interval,
        retries bigint,
        retry_interval bigint,
        start_time timestamptz,
        start_time_offset interval,
        stop_time timestamptz,
        stop_time_offset interval,
        log_type text,
        file_name text
    )""",
    """CREATE UNIQUE INDEX transfer_requests_key ON transfer_requests (
        charge_point_id, kind, (request_id IS NULL), (coalesce(request_id, 0))
    )""",
    "CREATE SEQUENCE transfer_status_writes",
    """CREATE TABLE transfer_statuses (
        seq bigint NOT NULL DEFAULT nextval('transfer_status_writes'),
        charge_point_id text NOT NULL,
        kind text NOT NULL,
        request_id bigint,
        status text NOT NULL,
        received_at timestamptz NOT NULL,
        received_at_offset interval NOT NULL
    )""",
    """CREATE UNIQUE INDEX transfer_statuses_key ON transfer_statuses (
        charge_point_id, kind, (request_id IS NULL), (coalesce(request_id, 0))
    )""",
    """CREATE INDEX transfer_statuses_newest
        ON transfer_statuses (charge_point_id, received_at DESC, seq DESC)""",
    """CREATE TABLE security_events (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        charge_point_id text NOT NULL,
        type text NOT NULL,
        "timestamp" timestamptz NOT NULL,
        timestamp_offset interval NOT NULL,
        tech_info text,
        received_at timestamptz NOT NULL,
        received_at_offset interval NOT NULL
    )""",
    """CREATE UNIQUE INDEX security_events_once ON security_events (
        charge_point_id, "timestamp", type, (tech_info IS NULL), (coalesce(tech_info, ''))
    )""",
)

# Version 3: transactions marked ended-unconfirmed, and the StopTransactions that closed no
# transaction. New nullable columns without a default: PostgreSQL adds them without rewriting
# or scanning the table, and every existing transaction reads as not marked.
_V3 = (
    """ALTER TABLE transactions
        ADD COLUMN unconfirmed_meter_stop bigint,
        ADD COLUMN unconfirmed_timestamp timestamptz,
        ADD COLUMN unconfirmed_timestamp_offset interval,
        ADD COLUMN unconfirmed_cause text,
        ADD COLUMN unconfirmed_detected_at timestamptz,
        ADD COLUMN unconfirmed_detected_at_offset interval""",
    """CREATE INDEX transactions_unconfirmed_by_charge_point ON transactions (charge_point_id)
        WHERE stop_timestamp IS NULL AND unconfirmed_cause IS NOT NULL""",
    # A retry (same charge point, transaction id, meterStop and instant) is kept once.
    """CREATE TABLE unmatched_stops (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        charge_point_id text NOT NULL,
        transaction_id bigint NOT NULL,
        meter_stop bigint NOT NULL,
        stop_timestamp timestamptz NOT NULL,
        stop_timestamp_offset interval NOT NULL,
        stop_reason text,
        stop_id_tag text,
        cause text NOT NULL,
        received_at timestamptz NOT NULL,
        received_at_offset interval NOT NULL,
        transaction_data text NOT NULL,
        CONSTRAINT unmatched_stops_once
            UNIQUE (charge_point_id, transaction_id, meter_stop, stop_timestamp)
    )""",
    "CREATE INDEX unmatched_stops_by_charge_point ON unmatched_stops (charge_point_id, seq)",
)

# Version 4: the Plug & Charge certificate state. An installed certificate's key is its four
# normalised parts (``certificate_key``), one column each.
_V4 = (
    """CREATE TABLE pnc_installed_certificates (
        charge_point_id text NOT NULL,
        certificate_type text NOT NULL,
        key_hash_algorithm text NOT NULL,
        key_issuer_name_hash text NOT NULL,
        key_issuer_key_hash text NOT NULL,
        key_serial_number text NOT NULL,
        hash_data text NOT NULL,
        child_hash_data text NOT NULL,
        certificate text,
        updated_at timestamptz NOT NULL,
        updated_at_offset interval NOT NULL,
        PRIMARY KEY (charge_point_id, certificate_type, key_hash_algorithm,
            key_issuer_name_hash, key_issuer_key_hash, key_serial_number)
    )""",
    """CREATE TABLE pnc_signing_requests (
        charge_point_id text NOT NULL,
        request_id text NOT NULL,
        csr text NOT NULL,
        certificate_type text NOT NULL,
        received_at timestamptz NOT NULL,
        received_at_offset interval NOT NULL,
        attempts bigint NOT NULL,
        last_error text,
        PRIMARY KEY (charge_point_id, request_id)
    )""",
    """CREATE TABLE pnc_v2g_certificates (
        charge_point_id text PRIMARY KEY,
        not_after timestamptz NOT NULL,
        not_after_offset interval NOT NULL,
        installed_at timestamptz NOT NULL,
        installed_at_offset interval NOT NULL,
        certificate_chain text,
        renewal_requested_at timestamptz,
        renewal_requested_at_offset interval
    )""",
    "CREATE INDEX pnc_v2g_certificates_by_expiry ON pnc_v2g_certificates (not_after)",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4)
"""Migration ``n`` (from 1) brings the schema from version ``n - 1`` to ``n``. Append only:
a released migration never changes."""

LATEST_VERSION = len(MIGRATIONS)


def migrate(connection: psycopg.Connection[Any], *, target: int = LATEST_VERSION) -> int:
    """Bring the schema to ``target`` (default: the latest); return the version found.

    ``connection`` is in autocommit mode; everything happens in one transaction under the
    advisory lock :data:`LOCK_KEY`. Raise :class:`StoreError` for a newer schema.
    """
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version integer PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
        found: int = 0 if row is None or row[0] is None else row[0]
        if found > LATEST_VERSION:
            raise StoreError(
                f"the database has schema version {found}; this library knows up to "
                f"{LATEST_VERSION}"
            )
        for version in range(found + 1, target + 1):
            for statement in MIGRATIONS[version - 1]:
                connection.execute(statement)
            connection.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
    return found
