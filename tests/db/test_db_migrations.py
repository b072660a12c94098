"""The schema: the migrations' head is SCHEMA_REVISION and matches the
models, each migration keeps the rows it carries over, new SQLite databases
get 16 KiB pages, and uint256 columns are exact on every backend."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from support.indexer import event_row

from ledger.db.models import Event, Financing, Invoice, Repayment


def test_indexer_schema_revision_is_the_migrations_head() -> None:
    from alembic.script import ScriptDirectory

    from ledger.db.engine import MIGRATIONS_DIR, SCHEMA_REVISION, _alembic_config

    assert ScriptDirectory.from_config(_alembic_config(None)).get_current_head() == SCHEMA_REVISION
    assert MIGRATIONS_DIR.is_dir()


@pytest.mark.parametrize("existing_page_size", [None, 4096])
def test_indexer_sqlite_page_size_is_16_kib_for_new_databases_only(
    tmp_path: Path, existing_page_size: int | None
) -> None:
    """New SQLite databases get 16 KiB pages; one made with other pages keeps
    them (SQLite cannot change them in WAL mode) and still works. Either way
    a commit checkpoints at about 40 MB of WAL."""
    import sqlite3

    from ledger.db.engine import WAL_CHECKPOINT_BYTES, open_engine

    path = tmp_path / "ledger.db"
    if existing_page_size is not None:
        made = sqlite3.connect(path)
        made.execute(f"PRAGMA page_size={existing_page_size}")
        made.execute("PRAGMA journal_mode=WAL")
        made.close()
    engine = open_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            page_size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            checkpoint = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
            tables = conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name = 'events'").scalar_one()
        assert page_size == (existing_page_size or 16384)
        assert checkpoint * page_size == WAL_CHECKPOINT_BYTES
        assert tables == 1  # migrated on open
    finally:
        engine.dispose()


def test_indexer_schema_matches_the_models(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import ledger.api.models  # noqa: F401  (the API's table, on the same metadata)
    import ledger.finance.models  # noqa: F401
    from ledger.db import open_engine
    from ledger.db.models import Base

    engine = open_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    ours = {t.name for t in Base.metadata.sorted_tables}
    relevant = [
        d
        for d in diff
        if getattr(d[1], "name", None) in ours or getattr(getattr(d[1], "table", None), "name", None) in ours
    ]
    assert relevant == []


def test_indexer_uint256_is_exact_on_every_backend(db_url: str) -> None:
    from ledger.db import open_engine

    engine = open_engine(db_url)
    values = [0, 1, 2**53 + 1, 2**63 - 1, 2**63, 2**128 - 1, 2**256 - 1]
    try:
        with engine.begin() as conn:
            conn.execute(
                Event.__table__.insert(),
                [
                    {
                        "chain_id": 1,
                        "contract": "0x" + "00" * 20,
                        "block_number": 1,
                        "block_hash": f"0x{i:064x}",
                        "block_time": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                        "tx_hash": "0x" + "00" * 32,
                        "tx_index": 0,
                        "log_index": 0,
                        "event": "T",
                        "invoice_id": None,
                        "account": None,
                        "amount": v,
                        "args": {},
                    }
                    for i, v in enumerate(values)
                ],
            )
            got = [r[0] for r in conn.execute(select(Event.amount).order_by(Event.amount))]
            above = [r[0] for r in conn.execute(select(Event.amount).where(Event.amount > 2**63 - 1))]
            times = {r[0] for r in conn.execute(select(Event.block_time))}
    finally:
        engine.dispose()
    assert got == values
    assert sorted(above) == [2**63, 2**128 - 1, 2**256 - 1]
    assert times == {dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}


def test_indexer_migration_0002_keeps_events_and_their_uniqueness(db_url: str) -> None:
    """A database indexed before migration 0002 keeps its events; afterwards
    the same (chain, block hash, log index) is still refused, and the
    downgrade gives the old key back."""
    from alembic import command
    from sqlalchemy.exc import IntegrityError

    from ledger.db import current_revision, open_engine
    from ledger.db.engine import SCHEMA_REVISION, _alembic_config, create_db_engine, upgrade

    engine = create_db_engine(db_url)
    table = Event.__table__
    row = {k: v for k, v in event_row(4, 2, amount=9).items() if k != "args_json"}
    try:
        upgrade(engine, "f001")
        with engine.begin() as conn:
            conn.execute(table.insert(), [row])
        upgrade(engine)
        assert current_revision(engine) == SCHEMA_REVISION
        with engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(select(Event.block_number, Event.log_index, Event.amount))] == [
                (4, 2, 9)
            ]
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(table.insert(), [row])
        with engine.begin() as conn:
            command.downgrade(_alembic_config(conn), "f001")
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(table.insert(), [{**row, "block_number": 5}])  # the old key: hash and log index
        open_engine(db_url).dispose()  # and up again, as every command does on first use
        assert current_revision(engine) == SCHEMA_REVISION
    finally:
        engine.dispose()


def test_indexer_migration_0003_narrows_the_invoice_index(db_url: str) -> None:
    """0003 rebuilds ix_events_invoice without the contract (keeping the
    events and the partial WHERE); an invoice's history still reads through
    it; the downgrade gives the wide index back."""
    from alembic import command
    from sqlalchemy import inspect

    from ledger.db.engine import _alembic_config, create_db_engine, upgrade

    engine = create_db_engine(db_url)

    def invoice_index() -> list[str]:
        with engine.connect() as conn:
            [index] = [i for i in inspect(conn).get_indexes("events") if i["name"] == "ix_events_invoice"]
        return list(index["column_names"])

    try:
        upgrade(engine, "0002")
        with engine.begin() as conn:
            conn.execute(
                Event.__table__.insert(), [{k: v for k, v in event_row(4, 2, invoice_id=7).items() if k != "args_json"}]
            )
        assert invoice_index() == ["chain_id", "contract", "invoice_id"]
        upgrade(engine)
        assert invoice_index() == ["chain_id", "invoice_id"]
        with engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(select(Event.block_number, Event.invoice_id))] == [(4, 7)]
            history = select(Event.log_index).where(
                Event.chain_id == 1, Event.contract == "0x" + "11" * 20, Event.invoice_id == 7
            )
            if conn.dialect.name == "sqlite":
                compiled = history.compile(conn, compile_kwargs={"literal_binds": True})
                plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
                assert "ix_events_invoice" in plan, plan
        with engine.begin() as conn:
            command.downgrade(_alembic_config(conn), "0002")
        assert invoice_index() == ["chain_id", "contract", "invoice_id"]
    finally:
        engine.dispose()


def test_indexer_migration_0004_carries_version_1_rows_over(db_url: str) -> None:
    """0004 (contracts v2) keeps the projections of a database indexed from
    version 1 contracts, settled as version 1 did: the financier due the
    whole amount and paid every payment, no reserve, no number; the
    downgrade gives the fingerprint column back."""
    from alembic import command
    from sqlalchemy import inspect

    from ledger.db.engine import _alembic_config, create_db_engine, upgrade

    engine = create_db_engine(db_url)
    day = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    key = {"chain_id": 1, "contract": "0x" + "11" * 20}
    record = {
        **key,
        "block_hash": "0x" + "22" * 32,
        "block_time": day,
        "tx_hash": "0x" + "33" * 32,
        "currency": "0x" + "44" * 20,
    }
    try:
        upgrade(engine, "0003")
        with engine.begin() as conn:
            old = sa_table(conn, "invoices")
            conn.execute(
                old.insert(),
                [
                    {
                        **key,
                        "invoice_id": n,
                        "supplier": "0x" + "55" * 20,
                        "buyer": "0x" + "66" * 20,
                        "holder": "0x" + "77" * 20,
                        "currency": record["currency"],
                        "amount": 100_000,
                        "paid": paid,
                        "outstanding": 100_000 - paid,
                        "advance": 90_000 if financed else 0,
                        "financier": "0x" + "77" * 20 if financed else None,
                        "status": status,
                        "due_at": day,
                        "due_date": day.date(),
                        "fingerprint": "0x" + "88" * 32,
                        "doc_hash": "0x" + "99" * 32,
                        "issued_block": 1,
                        "issued_at": day,
                        "financed_block": 5 if financed else None,
                        "updated_block": 9,
                        "updated_at": day,
                    }
                    for n, paid, financed, status in ((1, 40_000, True, "PartiallyPaid"), (2, 0, False, "Confirmed"))
                ],
            )
            conn.execute(
                sa_table(conn, "financings").insert(),
                [
                    {
                        **record,
                        "invoice_id": 1,
                        "financier": "0x" + "77" * 20,
                        "seller": "0x" + "55" * 20,
                        "advance": 90_000,
                        "block_number": 5,
                        "log_index": 0,
                    }
                ],
            )
            conn.execute(
                sa_table(conn, "repayments").insert(),
                [
                    {
                        **record,
                        "invoice_id": 1,
                        "payer": "0x" + "66" * 20,
                        "payee": "0x" + "77" * 20,
                        "amount": 40_000,
                        "total_paid": 40_000,
                        "block_number": 7,
                        "log_index": 0,
                    }
                ],
            )
        upgrade(engine)
        with engine.connect() as conn:
            invoices = {r.invoice_id: r for r in conn.execute(select(Invoice.__table__))}
            financing = conn.execute(select(Financing.__table__)).one()
            repayment = conn.execute(select(Repayment.__table__)).one()
        assert (
            invoices[1].seller,
            invoices[1].financier_due,
            invoices[1].financier_paid,
            invoices[1].reserve_released,
            invoices[1].number,
        ) == ("0x" + "55" * 20, 100_000, 40_000, 0, None)
        assert (invoices[2].seller, invoices[2].financier_due, invoices[2].financier_paid) == (None, None, 0)
        assert financing.due == 100_000
        assert (repayment.to_payee, repayment.to_seller, repayment.seller) == (40_000, 0, "0x" + "55" * 20)
        with engine.begin() as conn:
            command.downgrade(_alembic_config(conn), "0003")
        with engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("invoices")}
            kept = conn.execute(select(func.count()).select_from(Repayment.__table__)).scalar_one()
        assert "fingerprint" in columns and "number" not in columns and kept == 1
        upgrade(engine)
    finally:
        engine.dispose()


def test_indexer_migration_0006_carries_invoices_over_as_roots(db_url: str) -> None:
    """0006 (multi-tier parts) makes every invoice indexed before a root of
    its own tree (no parent, itself as root, depth 0), indexed by root; the
    downgrade drops the lineage and keeps the rows."""
    from alembic import command
    from sqlalchemy import inspect

    from ledger.db.engine import _alembic_config, create_db_engine, upgrade

    engine = create_db_engine(db_url)
    day = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    try:
        upgrade(engine, "0005")
        with engine.begin() as conn:
            conn.execute(
                sa_table(conn, "invoices").insert(),
                [
                    {
                        "chain_id": 1,
                        "contract": "0x" + "11" * 20,
                        "invoice_id": n,
                        "supplier": "0x" + "55" * 20,
                        "buyer": "0x" + "66" * 20,
                        "holder": "0x" + "77" * 20,
                        "currency": "0x" + "44" * 20,
                        "amount": 100_000,
                        "paid": 0,
                        "outstanding": 100_000,
                        "advance": 0,
                        "status": "Confirmed",
                        "due_at": day,
                        "due_date": day.date(),
                        "doc_hash": "0x" + "99" * 32,
                        "issued_block": 1,
                        "issued_at": day,
                        "updated_block": 9,
                        "updated_at": day,
                    }
                    for n in (3, 8)
                ],
            )
        upgrade(engine)
        with engine.connect() as conn:
            rows = [
                tuple(r)
                for r in conn.execute(
                    select(Invoice.invoice_id, Invoice.parent_id, Invoice.root_id, Invoice.depth).order_by(
                        Invoice.invoice_id
                    )
                )
            ]
            indexes = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("invoices")}
        assert rows == [(3, None, 3, 0), (8, None, 8, 0)]
        assert indexes["ix_invoices_root"] == ["chain_id", "root_id"]
        with engine.begin() as conn:
            command.downgrade(_alembic_config(conn), "0005")
        with engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("invoices")}
            kept = conn.execute(select(func.count()).select_from(Invoice.__table__)).scalar_one()
        assert not {"parent_id", "root_id", "depth"} & columns and kept == 2
        upgrade(engine)
    finally:
        engine.dispose()


def sa_table(conn: Any, name: str) -> Any:
    """A table as the database has it now (older migrations' columns)."""
    from sqlalchemy import MetaData, Table

    return Table(name, MetaData(), autoload_with=conn)
