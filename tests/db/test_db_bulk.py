"""Bulk inserts: each column converted, stored rows ignored, COPY storing
what row inserts store, and a failed COPY raised as a SQLAlchemy error."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select
from support.indexer import event_row

from ledger.db.models import Event


def test_indexer_bulk_insert_converts_each_column_and_ignores_stored_rows(db_url: str) -> None:
    """The generated parameter builder: None stays NULL (also when a column is
    NULL in every row and left out), large amounts stay exact, ready-made JSON
    text is stored as is, a dict is serialised, and a row already stored
    under (chain, block, hash, log index) is skipped."""
    from ledger.db import open_engine
    from ledger.indexer.writer import EVENTS_INSERT

    engine = open_engine(db_url)
    rows = [
        event_row(1, 0),
        event_row(1, 1, amount=2**256 - 1, invoice_id=7, args_json='{"b":"2"}', args=None),
        event_row(2, 0, amount=5, account="0x" + "33" * 20, args={"c": ["x", True]}),
    ]
    try:
        with engine.begin() as conn:
            EVENTS_INSERT.execute(conn, rows)
        with engine.begin() as conn:
            # Again, plus one new row: the stored ones are ignored, not doubled.
            EVENTS_INSERT.execute(conn, [*rows, event_row(3, 0)])
        with engine.begin() as conn:
            # Columns NULL in every row are left out of the statement: still NULL.
            EVENTS_INSERT.execute(conn, [event_row(4, 0), event_row(4, 1, args=None, args_json='{"d":"4"}')])
        with engine.connect() as conn:
            got = [
                tuple(r)
                for r in conn.execute(
                    select(
                        Event.block_number,
                        Event.log_index,
                        Event.amount,
                        Event.invoice_id,
                        Event.account,
                        Event.args,
                        Event.block_time,
                    ).order_by(Event.block_number, Event.log_index)
                )
            ]
    finally:
        engine.dispose()
    noon = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    assert got == [
        (1, 0, None, None, None, {"a": "1"}, noon),
        (1, 1, 2**256 - 1, 7, None, {"b": "2"}, noon),
        (2, 0, 5, None, "0x" + "33" * 20, {"c": ["x", True]}, noon),
        (3, 0, None, None, None, {"a": "1"}, noon),
        (4, 0, None, None, None, {"a": "1"}, noon),
        (4, 1, None, None, None, {"d": "4"}, noon),
    ]


@pytest.mark.parametrize("known_new", [True, False])
def test_indexer_bulk_copy_stores_what_row_inserts_store(
    db_url: str, monkeypatch: pytest.MonkeyPatch, known_new: bool
) -> None:
    """On PostgreSQL 70 rows go through COPY in binary format (straight into
    the table, or through the staging table when conflicts are ignored);
    the same rows inserted one statement per batch under another chain id
    read back the same: exact amounts past 64 bits, NULLs, times, JSON from
    ready text (unicode, quotes) and from dicts."""
    from ledger.db import open_engine
    from ledger.indexer import bulk
    from ledger.indexer.writer import EVENTS_INSERT

    def rows(chain_id: int) -> list[dict[str, Any]]:
        return [
            event_row(
                10 + i // 7,
                i % 7,
                chain_id=chain_id,
                amount=2**256 - 1 if i % 5 == 0 else (i if i % 3 else None),
                invoice_id=i if i % 2 else None,
                account="0x" + f"{i:02x}" * 20 if i % 6 == 0 else None,
                block_time=dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC) + dt.timedelta(seconds=i, microseconds=i),
                args_json=f'{{"n":"{i}","s":"香港 \\"q\\""}}' if i % 4 else None,
                args={"i": str(i), "ok": True} if i % 4 == 0 else None,
            )
            for i in range(70)
        ]

    engine = open_engine(db_url)
    try:
        with engine.begin() as conn:
            EVENTS_INSERT.execute(conn, rows(1), known_new=known_new)
            if not known_new:
                EVENTS_INSERT.execute(conn, rows(1))  # stored already: ignored
        monkeypatch.setattr(bulk, "COPY_MIN_ROWS", 10**9)
        with engine.begin() as conn:
            EVENTS_INSERT.execute(conn, rows(2), known_new=known_new)
        with engine.connect() as conn:
            got = {
                chain: [
                    tuple(r)
                    for r in conn.execute(
                        select(
                            Event.block_number,
                            Event.log_index,
                            Event.amount,
                            Event.invoice_id,
                            Event.account,
                            Event.args,
                            Event.block_time,
                            Event.block_hash,
                            Event.tx_hash,
                            Event.event,
                        )
                        .where(Event.chain_id == chain)
                        .order_by(Event.block_number, Event.log_index)
                    )
                ]
                for chain in (1, 2)
            }
    finally:
        engine.dispose()
    assert len(got[1]) == 70
    assert got[1] == got[2]
    assert got[1][0][2] == 2**256 - 1 and got[1][1][5] == {"n": "1", "s": '香港 "q"'}
    assert got[1][4][5] == {"i": "4", "ok": True}


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_indexer_failed_copy_is_a_sqlalchemy_error(db_url: str) -> None:
    """COPY goes through psycopg's own API; its failures must still arrive as
    SQLAlchemy errors, which `database_errors` turns into one line and
    `follow` sorts into retryable or not."""
    from sqlalchemy.exc import IntegrityError

    from ledger.db import open_engine
    from ledger.db.engine import database_errors
    from ledger.errors import DatabaseError
    from ledger.indexer.bulk import COPY_MIN_ROWS
    from ledger.indexer.writer import EVENTS_INSERT

    engine = open_engine(db_url)
    rows = [event_row(1, i) for i in range(COPY_MIN_ROWS)]
    try:
        with engine.begin() as conn:
            EVENTS_INSERT.execute(conn, rows, known_new=True)
        with pytest.raises(IntegrityError) as raised, engine.begin() as conn:
            EVENTS_INSERT.execute(conn, rows, known_new=True)  # wrongly claimed new: COPY hits the unique key
        with pytest.raises(DatabaseError) as wrapped, database_errors(db_url), engine.begin() as conn:
            EVENTS_INSERT.execute(conn, rows, known_new=True)
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(Event)).scalar_one()
    finally:
        engine.dispose()
    assert "duplicate key value violates unique constraint" in str(raised.value)
    assert "duplicate key value" in str(wrapped.value) and "\n" not in str(wrapped.value)
    assert stored == COPY_MIN_ROWS
