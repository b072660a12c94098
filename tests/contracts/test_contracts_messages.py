"""The one-line messages of the contracts' custom errors, as the CLI shows them.

Every rule the contracts enforce has a test that tries to break it by calling
the contract directly (``contract.functions.X(...)`` through ``Net.send`` of
``support.contracts``), not through ``Ledger`` helpers that may check first.
Every revert is checked by its custom error and by the values it carries; the
base scenario of ``conftest.py`` is restored after each test by the ``chain``
fixture. Tests named ``..._attack_...`` reproduce an attack and show that it is
repelled.
"""

from __future__ import annotations

import pytest
from support.contracts import (
    DAY,
    Net,
)
from web3 import Web3

from ledger.errors import TransactionReverted
from ledger.format import text_time

# -- revert messages ------------------------------------------------------------------------


def test_contracts_message_duplicate_invoice(net: Net) -> None:
    net.issue("INV-2026/001")
    with pytest.raises(TransactionReverted) as info:
        net.issue("inv 2026 001", amount="1000.01")
    assert str(info.value) == (
        f"duplicate invoice: Kowloon Precision Parts Ltd ({net.addr('supplier')}) already issued invoice number "
        "'INV2026001' (in any spelling) as invoice 1; an invoice number is used once, ever"
    )


def test_contracts_message_already_financed(net: Net) -> None:
    net.financed()
    with pytest.raises(TransactionReverted) as info:
        net.ledger.finance(net.acct("financier2"), 1, advance="900.00")
    assert str(info.value) == (
        f"invoice 1 is already financed (sold by Kowloon Precision Parts Ltd ({net.addr('supplier')})); "
        "one financing, ever"
    )


def test_contracts_message_not_buyer(net: Net) -> None:
    net.issue()
    with pytest.raises(TransactionReverted) as info:
        net.ledger.confirm(net.acct("buyer2"), 1)
    assert str(info.value) == (
        f"Kwai Chung Logistics Ltd ({net.addr('buyer2')}) is not the buyer of invoice 1 "
        f"(the buyer is Tsuen Wan Electronics Ltd ({net.addr('buyer')}))"
    )


def test_contracts_message_money_and_status(net: Net) -> None:
    net.offered()
    with pytest.raises(TransactionReverted) as info:
        net.ledger.finance(net.acct("financier"), 1, advance="1000.01")
    assert str(info.value) == (
        "advance HKD 1,000.01 for invoice 1 must be positive and at most the financier's due HKD 1,000.00"
    )
    net.issue(number="INV-2")
    with pytest.raises(TransactionReverted) as info:
        net.ledger.finance(net.acct("financier"), 2, advance="900.00")
    assert str(info.value) == (
        "invoice 2 cannot be listed, financed or split in status Issued; it must be Confirmed or PartiallyPaid"
    )


def test_contracts_message_roles_and_dates(net: Net) -> None:
    net.offered(days=10, offer_days=60)
    with pytest.raises(TransactionReverted) as info:
        net.ledger.finance(net.acct("supplier2"), 1, advance="900.00")
    assert str(info.value) == (
        f"participant Sham Shui Po Textiles Ltd ({net.addr('supplier2')}) lacks the financier role (has supplier)"
    )
    due = net.invoice(1)["dueDate"]
    net.advance_time(11 * DAY)
    with pytest.raises(TransactionReverted) as info:
        net.ledger.finance(net.acct("financier"), 1, advance="900.00")
    assert str(info.value) == f"invoice 1 matured on {text_time(due)} and can no longer be financed or split"


def test_contracts_message_pause(net: Net) -> None:
    net.set_paused(True)
    with pytest.raises(TransactionReverted) as info:
        net.issue()
    assert str(info.value) == "the network is paused by the operator"


def test_contracts_revert_checksum_addresses(net: Net) -> None:
    # error_args carry checksummed addresses, comparable with LocalAccount.address.
    net.issue()
    with pytest.raises(TransactionReverted) as info:
        net.ledger.confirm(net.acct("buyer2"), 1)
    assert info.value.error_args["account"] == net.acct("buyer2").address
    assert Web3.is_checksum_address(info.value.error_args["buyer"])
