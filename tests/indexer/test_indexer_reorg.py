"""Reorgs, rewinds and lagging nodes: after a reorg of any depth the database
equals a fresh index of the new chain; a node whose head is merely lower is
waited for; `--rewind` rolls back what a chain that lost blocks no longer has."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support.indexer import (  # noqa: F401 - fixtures
    DUE,
    Actions,
    RpcProxy,
    actions_fixture,
    assert_matches_chain,
    fresh_snapshot,
    head,
    proxy_fixture,
    reorg_txs,
    rpc,
    scf,
    settings_fixture,
    snapshot,
)

from ledger.config import Settings


def test_indexer_reorgs_of_depth_1_to_10_equal_a_fresh_index(
    settings: Settings, actions: Actions, ledger: Any, acct: Any, tmp_path: Path
) -> None:
    """Invoices issued, financed and repaid inside the reorganised blocks;
    after each reorg the database equals a fresh index of the chain."""
    from ledger.indexer import sync

    url = settings.rpc_url
    sync(settings)
    for depth in range(1, 11):
        actions.blocks_of_activity(depth + 1)
        sync(settings)
        rpc(url, "anvil_reorg", [depth, reorg_txs(ledger, acct, f"{depth}-{time.monotonic_ns()}")])

        stats = sync(settings)

        assert stats.reorgs == 1 and stats.reorged_blocks >= depth, (depth, stats)
        assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path), depth
        assert_matches_chain(settings.database_url, ledger)


@pytest.mark.parametrize("depth", [1, 4, 10])
def test_indexer_rollback_waits_then_follows_the_new_blocks(
    settings: Settings, actions: Actions, ledger: Any, acct: Any, tmp_path: Path, depth: int
) -> None:
    """anvil_rollback lowers the head with the remaining hashes unchanged: a
    lagging node, nothing is deleted. Once different blocks are mined over
    the same heights, that is a reorg and it is rolled back."""
    from ledger.indexer import sync

    url = settings.rpc_url
    actions.blocks_of_activity(depth + 2)
    sync(settings)
    before = snapshot(settings.database_url)
    rpc(url, "anvil_rollback", [depth])

    lagging = sync(settings)

    assert lagging.lagging and (lagging.events, lagging.reorgs) == (0, 0)
    assert snapshot(settings.database_url) == before

    actions.blocks_of_activity(depth + 1)
    after = sync(settings)

    assert after.reorgs == 1, after
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)
    assert_matches_chain(settings.database_url, ledger)


def test_indexer_reorg_of_the_v2_events_equals_a_fresh_index(
    settings: Settings, actions: Actions, ledger: Any, acct: Any, tmp_path: Path
) -> None:
    """Blocks holding a partly paid invoice financed with a reserve, a payment
    that releases a reserve (ReserveReleased), a listing cleared by a transfer
    and a renamed participant are reorganised away: the database equals a
    fresh index, before and after. The invoices are prepared before the
    reorganised blocks so that the reorg stays under ten blocks deep: deeper
    reorgs on the session Anvil, after other tests' snapshots and reverts,
    have rebuilt the chain without the contracts."""
    from ledger.indexer import sync

    url = settings.rpc_url
    ledger_, buyer, supplier = actions.ledger, acct("buyer"), acct("supplier")
    released = actions.issue()
    actions.lifecycle(released, "part-paid")  # financed, due 950 (reserve 50), 400 paid
    cleared = actions.issue()
    actions.lifecycle(cleared, "offered")
    prepaid = actions.issue()
    ledger_.confirm(buyer, prepaid)
    ledger_.repay(buyer, prepaid, "100")
    sync(settings)
    start = head(url)
    ledger_.repay(buyer, released, "600")  # 550 to the financier, the 50 reserve to the supplier
    ledger_.sender.transact(
        ledger_.invoices.functions.transferFrom(supplier.address, acct("supplier2").address, cleared), supplier
    )
    ledger_.offer(supplier, prepaid, None, "700", 7)
    ledger_.finance(acct("financier"), prepaid, advance="800", due="850")
    actions.rename()
    sync(settings)
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path, "before")
    depth = head(url) - start
    assert depth <= 10, depth
    rpc(url, "anvil_reorg", [depth, reorg_txs(ledger, acct, f"v2-{time.monotonic_ns()}")])

    stats = sync(settings)

    assert stats.reorgs == 1 and stats.reorged_blocks >= depth - 1, stats
    after = snapshot(settings.database_url)
    assert after == fresh_snapshot(settings, tmp_path, "after")
    names = [e for e in after["events"] if e[8] in ("ReserveReleased", "ParticipantRenamed")]
    assert names == [], "the reorg removed them"
    assert_matches_chain(settings.database_url, ledger)


def test_indexer_sync_rewind_rolls_back_blocks_the_chain_lost(
    settings: Settings, actions: Actions, ledger: Any, tmp_path: Path
) -> None:
    """A chain restarted from an older state (evm_revert here) has a lower
    head and the same hashes below it, which is also what a lagging node
    shows: a plain sync changes nothing and warns in one line; `--rewind`
    rolls back what the chain no longer has (every projection with it) and
    syncs; the blocks mined again over those heights then index as usual."""
    from click.testing import CliRunner

    from ledger.cli import main
    from ledger.indexer import sync

    url = settings.rpc_url
    actions.lifecycle(actions.issue(), "financed")
    sync(settings)
    kept = head(url)
    saved = rpc(url, "evm_snapshot")
    actions.lifecycle(actions.issue(), "prepaid-financed")
    actions.rename()
    sync(settings)
    lost = head(url) - kept
    assert rpc(url, "evm_revert", [saved]) is True
    before = snapshot(settings.database_url)
    base = ["--home", str(settings.home), "--rpc-url", url, "--db-url", settings.database_url, "index", "sync"]

    plain = CliRunner().invoke(main, base)

    assert plain.exit_code == 0, plain.output
    assert plain.stderr == (
        f"warning: the node's head {kept} is below the indexed block {kept + lost}: nothing changed, as for a node "
        "that is lagging; if the chain lost blocks (a node restarted from an older state), run "
        "`scf index sync --rewind`\n"
    )
    assert plain.stdout == f"nothing indexed: the node's head {kept} is below the indexed block {kept + lost}\n"
    assert snapshot(settings.database_url) == before

    rewound = CliRunner().invoke(main, [*base, "--rewind", "--json"])

    assert rewound.exit_code == 0, rewound.output
    stats = json.loads(rewound.stdout)
    assert (stats["rewound_blocks"], stats["reorgs"], stats["lagging"], stats["to_block"]) == (lost, 0, False, kept)
    assert rewound.stderr == ""
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path, "rewound")
    assert_matches_chain(settings.database_url, ledger)

    again = sync(settings, rewind=True)  # nothing lost now: a plain sync
    assert (again.rewound_blocks, again.events) == (0, 0)
    actions.lifecycle(actions.issue(), "paid")  # new blocks over the lost heights
    assert sync(settings).reorgs == 0
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path, "after")


def test_indexer_lagging_node_is_not_a_reorg(settings: Settings, actions: Actions, proxy: RpcProxy) -> None:
    from ledger.indexer import sync

    actions.blocks_of_activity(6)
    sync(settings)
    before = snapshot(settings.database_url)
    proxy.lag = 4

    stats = sync(replace(settings, rpc_url=proxy.url))

    assert stats.lagging and stats.reorgs == 0 and stats.events == 0
    assert stats.head == head(settings.rpc_url) - 4
    assert snapshot(settings.database_url) == before

    proxy.lag = 0
    actions.blocks_of_activity(2)
    caught_up = sync(replace(settings, rpc_url=proxy.url))
    assert not caught_up.lagging and caught_up.events > 0 and caught_up.reorgs == 0
