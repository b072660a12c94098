"""Reorgs: is the block the cursor points at still on the chain, and if not,
roll back to the newest block the chain still has.

A reorg is detected by a hash mismatch against the stored hashes (the
``blocks`` of the recent window and the blocks of stored events), and rolled
back by deleting everything above the fork block and replaying the
projections it touched; the sync then continues from there. A node whose
head is merely lower, with the hashes it has still matching, is lagging, not
reorganised: wait for it. Unless told to rewind (``scf index sync
--rewind``): a chain that lost blocks (an Anvil restarted from an older
state, a private chain reset to a backup) also has a lower head and matching
hashes below it, and only the user knows which it is; a rewind rolls back
everything above the newest stored block the chain still has (at most its
head), as for a reorg.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, update

from ledger.db.models import BLOCKS, CURSORS, EVENTS
from ledger.db.scope import Scope, load_cursors
from ledger.evm.rpc import RpcClient
from ledger.indexer import projections

#: Blocks below the head whose hashes are kept for reorg detection.
REORG_WINDOW = 128


class Reorgs:
    """Reorg detection and rollback for the indexed contracts of one chain."""

    def __init__(self, engine: Engine, rpc: RpcClient, chain_id: int, start_block: int) -> None:
        self.engine = engine
        self.rpc = rpc
        self.chain_id = chain_id
        #: The deployment's first block: a rollback goes no lower than the block before it.
        self.start_block = start_block

    def _stored_below(self, conn: Connection, number: int, limit: int | None) -> list[tuple[int, str]]:
        """Stored (number, hash) pairs below ``number``, newest first."""
        b, e = BLOCKS, EVENTS
        q1 = select(b.c.number, b.c.hash).where(b.c.chain_id == self.chain_id, b.c.number < number)
        q2 = (
            select(e.c.block_number, e.c.block_hash)
            .where(e.c.chain_id == self.chain_id, e.c.block_number < number)
            .group_by(e.c.block_number, e.c.block_hash)
        )
        if limit is not None:
            q1 = q1.order_by(b.c.number.desc()).limit(limit)
            q2 = q2.order_by(e.c.block_number.desc()).limit(limit)
        pairs = {(int(n), str(h)) for n, h in conn.execute(q1)} | {(int(n), str(h)) for n, h in conn.execute(q2)}
        ordered = sorted(pairs, reverse=True)
        return ordered[:limit] if limit is not None else ordered

    def _matches(self, pairs: Sequence[tuple[int, str]]) -> list[bool]:
        headers = self.rpc.headers([n for n, _ in pairs])
        return [headers.get(n) is not None and headers[n].hash == h for n, h in pairs]  # type: ignore[union-attr]

    def _fork_base(self, below: int) -> tuple[int, str] | None:
        """The newest stored block below ``below`` that the chain still has."""
        with self.engine.connect() as conn:
            recent = self._stored_below(conn, below, 32)
        if not recent:
            return None
        flags = self._matches(recent)
        if any(flags):
            return recent[flags.index(True)]
        with self.engine.connect() as conn:
            pairs = self._stored_below(conn, recent[-1][0], None)
        # Matching is monotone along one chain (a block that matches has
        # matching ancestors): binary search for the newest match.
        lo, hi, best = 0, len(pairs) - 1, None
        while lo <= hi:
            mid = (lo + hi) // 2
            if self._matches([pairs[mid]])[0]:
                best, hi = pairs[mid], mid - 1
            else:
                lo = mid + 1
        return best

    def check_chain(self, cursor: dict[str, Any], head: int, rewind: bool = False) -> str:
        """ "ok", "lagging" (head below the cursor, hashes match), "reorg"
        (rolled back to the fork point; reload the cursor) or, with
        ``rewind`` and the head below the cursor, "rewound" (rolled back to
        the newest stored block at or below the head that the chain still
        has; reload the cursor)."""
        number = int(cursor["block_number"])
        if rewind and head < number:
            self._roll_back_to_base(head + 1)
            return "rewound"
        probe = min(head, number)
        with self.engine.connect() as conn:
            if probe == number:
                newest = [(number, str(cursor["block_hash"]))]
            else:
                newest = self._stored_below(conn, probe + 1, 1)
        stored = newest[0] if newest else None
        if stored is None:
            return "lagging" if head < number else "ok"
        header = self.rpc.headers([stored[0]])[stored[0]]
        if header is None:
            return "lagging"  # the node went lower still; look again later
        if header.hash == stored[1]:
            return "lagging" if head < number else "ok"
        return "reorg" if self._roll_back_to_base(stored[0]) else "lagging"

    def _roll_back_to_base(self, below: int) -> bool:
        """Roll back to the newest stored block below ``below`` that the
        chain still has (else to the block before the deployment). False if
        the node has not even that block (it went lower still: look again
        later)."""
        base = self._fork_base(below)
        if base is None:
            origin = max(self.start_block - 1, 0)
            origin_header = self.rpc.headers([origin])[origin]
            if origin_header is None:
                return False
            base = (origin, origin_header.hash)
        self.rollback(base[0], base[1])
        return True

    def rollback(self, number: int, block_hash: str) -> int:
        """Forget everything above block ``number`` on this chain (its hash on
        the chain now is ``block_hash``) and replay the projections it touched.
        Returns how many events were deleted."""
        e = EVENTS
        with self.engine.begin() as conn:
            touched = [
                self._touched_above(conn, Scope.of_cursor(cur), number) for cur in load_cursors(conn, self.chain_id)
            ]
            deleted = (
                conn.execute(delete(e).where(e.c.chain_id == self.chain_id, e.c.block_number > number)).rowcount or 0
            )
            b = BLOCKS
            conn.execute(delete(b).where(b.c.chain_id == self.chain_id, b.c.number > number))
            c = CURSORS
            conn.execute(
                update(c)
                .where(c.c.chain_id == self.chain_id, c.c.block_number > number)
                .values(block_number=number, block_hash=block_hash)
            )
            for scope, ids, accounts in touched:
                if len(ids) + len(accounts) > 5000:
                    projections.rebuild_projections(conn, scope)
                elif ids or accounts:
                    projections.rebuild_projections(conn, scope, ids, accounts)
        return int(deleted)

    def _touched_above(self, conn: Connection, scope: Scope, number: int) -> tuple[Scope, list[int], list[str]]:
        """The invoices and participants of ``scope`` with events above block ``number``."""
        ids = [int(v) for v in self._distinct_above(conn, EVENTS.c.invoice_id, scope.invoice_contract, number)]
        accounts = [str(v) for v in self._distinct_above(conn, EVENTS.c.account, scope.registry_contract, number)]
        return scope, ids, accounts

    def _distinct_above(self, conn: Connection, column: Any, contract: str, number: int) -> list[Any]:
        """The distinct non-null values of an events ``column`` of ``contract`` above block ``number``."""
        e = EVENTS
        query = (
            select(column)
            .distinct()
            .where(
                e.c.chain_id == self.chain_id, e.c.contract == contract, e.c.block_number > number, column.is_not(None)
            )
        )
        return [r[0] for r in conn.execute(query)]
