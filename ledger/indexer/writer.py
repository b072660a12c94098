"""The writer: each checked range in ONE transaction, and the SQLite WAL
checkpointer that keeps commits from stalling.

A range's transaction holds its events (bulk Core INSERT, idempotent on
(chain_id, block_hash, log_index): the unique key also leads with
block_number, so it grows in chain order), the headers of blocks still
within the reorg window, the projections, and the cursor. A crash at any
moment leaves the database as of the end of some range. With a fetch process
on SQLite, a thread checkpoints the WAL after each commit, and once more
before the sync returns.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, update

from ledger.db.models import BLOCKS, CURSORS, EVENTS
from ledger.db.scope import Scope
from ledger.db.timestamps import utc_from_timestamp
from ledger.indexer import projections
from ledger.indexer.batch import Batch, Restart, UseThread
from ledger.indexer.bulk import BulkInsert

EVENT_COLUMNS = tuple(c.name for c in EVENTS.columns if c.name != "id")
EVENTS_INSERT = BulkInsert(
    EVENTS, EVENT_COLUMNS, "ignore", ("chain_id", "block_number", "block_hash", "log_index"), {"args": "args_json"}
)
BLOCKS_UPSERT = BulkInsert(BLOCKS, tuple(c.name for c in BLOCKS.columns), "update", ("chain_id", "number"))


class Writer:
    """Stores checked ranges of one deployment's events, one transaction each."""

    def __init__(self, engine: Engine, chain_id: int, key: str, scope: Scope, reorg_window: int) -> None:
        self.engine = engine
        self.chain_id = chain_id
        #: The cursor's contract-set key (see ``contract_set_key``).
        self.key = key
        self.scope = scope
        self.reorg_window = reorg_window

    def write(self, batch: Batch, expect: tuple[int, str], head: int) -> int:
        """Store one range in one transaction, if the cursor is still at
        ``expect`` (block number, hash); returns the events newly stored."""
        c = CURSORS
        with self.engine.begin() as conn:
            current = conn.execute(
                select(c.c.block_number, c.c.block_hash)
                .where(c.c.chain_id == self.chain_id, c.c.key == self.key)
                .with_for_update()
            ).first()
            if current is None or (int(current[0]), str(current[1])) != expect:
                raise Restart()  # another indexer moved the cursor, or a rollback did
            rows = self._insert_rows(conn, batch)
            if batch.headers:
                BLOCKS_UPSERT.execute(
                    conn,
                    [
                        {
                            "chain_id": self.chain_id,
                            "number": h.number,
                            "hash": h.hash,
                            "parent_hash": h.parent_hash,
                            "timestamp": utc_from_timestamp(h.timestamp),
                        }
                        for h in batch.headers
                    ],
                )
            if batch.params is not None:
                EVENTS_INSERT.execute_params(conn, batch.params, known_new=True)
            if batch.new_invoices is not None:
                projections.insert_new_invoices(conn, batch.new_invoices)
            projections.apply_events(conn, self.scope, rows)
            conn.execute(
                update(c)
                .where(c.c.chain_id == self.chain_id, c.c.key == self.key)
                .values(
                    block_number=batch.to_block,
                    block_hash=batch.end.hash,
                    head_number=head,
                    updated_at=dt.datetime.now(dt.UTC),
                )
            )
            b = BLOCKS
            conn.execute(
                delete(b).where(
                    b.c.chain_id == self.chain_id, b.c.number < min(batch.to_block, head - self.reorg_window)
                )
            )
        return len(batch.params) if batch.params is not None else len(rows)

    def _insert_rows(self, conn: Connection, batch: Batch) -> list[dict[str, Any]]:
        """Insert the batch's event rows (unless the fetch process made them
        INSERT parameters, stored after the headers); returns the rows to
        fold: those not stored before."""
        rows = batch.rows or []
        if rows or batch.params:
            e = EVENTS
            # Idempotent: rows already stored (same block hash and log
            # index) are neither inserted again nor folded twice.
            present = set(
                conn.execute(
                    select(e.c.block_hash, e.c.log_index).where(
                        e.c.chain_id == self.chain_id, e.c.block_number.between(batch.from_block, batch.to_block)
                    )
                )
            )
            if present:
                if batch.params is not None:
                    raise UseThread()  # prepared rows cannot be partly skipped
                rows = [r for r in rows if (r["block_hash"], r["log_index"]) not in present]
            if batch.params is None:
                EVENTS_INSERT.execute(conn, rows, known_new=True)
        return rows


class Checkpointer:
    """Checkpoints a SQLite database's WAL in a thread while the writer goes
    on with the next range: copying a backfill's pages from the WAL into the
    database (and the fsync after) then no longer stalls a commit every
    ~40 MB (``wal_autocheckpoint``), and the fsync waits overlap the writer's
    work. ``close`` checkpoints what is committed one last time and stops,
    so a sync's checkpointing stays inside the sync."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.wake = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self._main, name="scf-index-checkpoint", daemon=True)
        self.thread.start()

    @classmethod
    def start(cls, engine: Engine) -> Checkpointer | None:
        return cls(engine) if engine.dialect.name == "sqlite" else None

    def nudge(self) -> None:
        """A range was committed: checkpoint it when the last checkpoint is done."""
        self.wake.set()

    def _main(self) -> None:
        # Its own connection, outside any transaction (SQLAlchemy's begin
        # would take the write lock): a PASSIVE checkpoint waits for nobody.
        try:
            connection = self.engine.raw_connection()
        except Exception:  # noqa: BLE001 - then the commits checkpoint, as without this thread
            return
        try:
            while True:
                self.wake.wait()
                self.wake.clear()
                # Read before checkpointing: a close() during this checkpoint
                # (after a last commit) wakes the loop for one more.
                last = self.stopping
                cursor = connection.cursor()
                try:
                    cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    cursor.close()
                if last:
                    return
        except Exception:  # noqa: BLE001, S110 - the pages stay in the WAL: nothing is lost
            pass
        finally:
            connection.close()

    def close(self) -> None:
        self.stopping = True
        self.wake.set()
        self.thread.join()
