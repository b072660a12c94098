"""Bad input to `scf tx show|replace|cancel` (issue 18), for issue 12's table
of bad input (tests/cli/test_bad_input_table.py takes them through
:func:`table_cases`) and run with the same checks by
tests/cli/test_cli_faults_send.py, which also asserts each line exactly.

None needs a transaction of the ledger: a hash nobody sent, a malformed
one, a fee bump out of range, a missing or unknown ``--as``. ``{rpc}`` in
a message is the node's URL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: A well-formed hash that no node has seen.
UNKNOWN_TX = "0x" + "ab" * 32

_UNKNOWN = (
    f"transaction {UNKNOWN_TX} is unknown to the node at {{{{rpc}}}}: it never reached it, was dropped from "
    "its pool, or another took its place at its nonce, so there is nothing to {verb}; no transaction of "
    "Kowloon Precision Parts Ltd waits in the node's pool, so unless one mined in its place did what it does "
    "(look at the ledger first), run the command that sent it again"
)
_BUMP = (
    "invalid fee bump {given!r}: give a percentage from 12.5 (the least nodes take for a replacement) to 500, "
    "e.g. --fee-bump 25"
)

#: (id, exit code, argv, the error line without "Error: ").
TX_BAD_INPUT: list[tuple[str, int, tuple[str, ...], str]] = [
    (
        "tx-show-not-a-hash",
        2,
        ("tx", "show", "0x1234"),
        "invalid transaction hash '0x1234': expected 0x and 64 hex digits",
    ),
    (
        "tx-show-hash-too-long",
        2,
        ("tx", "show", UNKNOWN_TX + "a"),
        f"invalid transaction hash '{UNKNOWN_TX}a': expected 0x and 64 hex digits",
    ),
    ("tx-replace-unknown-hash", 2, ("tx", "replace", UNKNOWN_TX, "--as", "supplier"), _UNKNOWN.format(verb="replace")),
    ("tx-cancel-unknown-hash", 2, ("tx", "cancel", UNKNOWN_TX, "--as", "supplier"), _UNKNOWN.format(verb="cancel")),
    (
        "tx-replace-fee-bump-below-what-nodes-take",
        2,
        ("tx", "replace", UNKNOWN_TX, "--as", "supplier", "--fee-bump", "10"),
        _BUMP.format(given="10"),
    ),
    (
        "tx-cancel-fee-bump-not-a-number",
        2,
        ("tx", "cancel", UNKNOWN_TX, "--as", "supplier", "--fee-bump", "lots"),
        _BUMP.format(given="lots"),
    ),
    (
        "tx-cancel-unknown-account",
        2,
        ("tx", "cancel", UNKNOWN_TX, "--as", "mallory"),
        "unknown account 'mallory'; see `scf account list`",
    ),
    (
        "tx-replace-without-as",
        2,
        ("tx", "replace", UNKNOWN_TX),
        "Missing option '--as'. (see `main tx replace --help`)",
    ),
]


def table_cases(case: Callable[..., Any]) -> list[Any]:
    """:data:`TX_BAD_INPUT` as issue 12's table takes them, ``case(name, code, *argv,
    says=...)``: each line, up to the node's URL, must be in what the command prints."""
    return [case(name, code, *argv, says=line.split("{rpc}")[0]) for name, code, argv, line in TX_BAD_INPUT]
