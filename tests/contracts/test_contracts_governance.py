"""Roles, governance and pause of ParticipantRegistry and InvoiceToken.

Every rule the contracts enforce has a test that tries to break it by calling
the contract directly (``contract.functions.X(...)`` through ``Net.send`` of
``support.contracts``), not through ``Ledger`` helpers that may check first.
Every revert is checked by its custom error and by the values it carries; the
base scenario of ``conftest.py`` is restored after each test by the ``chain``
fixture. Tests named ``..._attack_...`` reproduce an attack and show that it is
repelled.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from support.contracts import (
    AMOUNT,
    CURRENCY_MANAGER_ROLE,
    DAY,
    DEFAULT_ADMIN_ROLE,
    MINTER_ROLE,
    OPERATOR_ROLE,
    SUPPLIER,
    Net,
    reverts,
)

from ledger.lifecycle import Ledger

# -- roles and governance ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "role"),
    [
        ("admit", OPERATOR_ROLE),
        ("update", OPERATOR_ROLE),
        ("rename", OPERATOR_ROLE),
        ("suspend", OPERATOR_ROLE),
        ("reinstate", OPERATOR_ROLE),
        ("pause", OPERATOR_ROLE),
        ("unpause", OPERATOR_ROLE),
        ("max_tenor", OPERATOR_ROLE),
        ("accept_currency", CURRENCY_MANAGER_ROLE),
        ("mint", MINTER_ROLE),
    ],
)
@pytest.mark.parametrize("who", ["supplier", "dev9"])
def test_contracts_non_operator_refused(net: Net, action: str, role: bytes, who: str) -> None:
    dev8 = net.addr("dev8")
    fns = {
        "admit": lambda: net.registry.functions.admit(dev8, "Tai Po Trading Ltd", SUPPLIER, net.now() + DAY),
        "update": lambda: net.registry.functions.updateParticipant(net.addr("supplier"), 15, net.now() + DAY),
        "rename": lambda: net.registry.functions.rename(net.addr("supplier"), "Mine Now Ltd"),
        "suspend": lambda: net.registry.functions.suspend(net.addr("buyer")),
        "reinstate": lambda: net.registry.functions.reinstate(net.addr("buyer")),
        "pause": lambda: net.invoices.functions.pause(),
        "unpause": lambda: net.invoices.functions.unpause(),
        "max_tenor": lambda: net.invoices.functions.setMaxTenor(100 * 365 * DAY),
        "accept_currency": lambda: net.invoices.functions.setCurrencyAccepted(net.registry.address, True),
        "mint": lambda: net.token.functions.mint(net.addr(who), 10**9),
    }
    with reverts("AccessControlUnauthorizedAccount", account=net.addr(who), neededRole=role):
        net.send(fns[action](), who)


def test_contracts_attack_grant_default_admin_directly_refused(net: Net) -> None:
    # Even the default admin cannot hand the role over (or add a second admin) in one step.
    for contract in (net.invoices, net.registry):
        with reverts("AccessControlEnforcedDefaultAdminRules"):
            net.send(contract.functions.grantRole(DEFAULT_ADMIN_ROLE, net.addr("dev9")), "operator")
        assert contract.functions.hasRole(DEFAULT_ADMIN_ROLE, net.addr("dev9")).call() is False
        with reverts("AccessControlUnauthorizedAccount", account=net.addr("dev9"), neededRole=DEFAULT_ADMIN_ROLE):
            net.send(contract.functions.grantRole(OPERATOR_ROLE, net.addr("dev9")), "dev9")


def _second_deployment(net: Net, tmp_path: Path) -> tuple[Ledger, dict[str, LocalAccount]]:
    """A second set of contracts whose roles are held by four distinct fresh accounts,
    deployed with ``ledger.evm.deploy.deploy`` on a private copy of the settings."""
    from ledger.evm.compiler import compile_contracts
    from ledger.evm.deploy import deploy

    settings = dataclasses.replace(net.ledger.settings, home=tmp_path)
    shutil.copytree(net.ledger.settings.artifacts_dir, settings.artifacts_dir)
    built, ran = compile_contracts(settings)
    assert ran is False  # the copied cache is used
    holders = {k: Account.create() for k in ("admin", "operator", "currency_manager", "minter", "successor")}
    deployment = deploy(
        settings,
        net.ledger.w3,
        built,
        holders["admin"],
        force=True,
        roles={k: holders[k].address for k in ("admin", "operator", "currency_manager", "minter")},
    )
    assert deployment.roles == {k: holders[k].address for k in ("admin", "operator", "currency_manager", "minter")}
    return Ledger(settings, net.ledger.w3, deployment), holders


def test_contracts_roles_held_by_distinct_accounts(net: Net, tmp_path: Path) -> None:
    second, who = _second_deployment(net, tmp_path)
    inv, reg = second.invoices.functions, second.registry.functions
    hkd = second.token(second.deployment.currency("HKD")).functions
    expected = [
        (inv, OPERATOR_ROLE, "operator"),
        (inv, CURRENCY_MANAGER_ROLE, "currency_manager"),
        (inv, DEFAULT_ADMIN_ROLE, "admin"),
        (reg, OPERATOR_ROLE, "operator"),
        (reg, DEFAULT_ADMIN_ROLE, "admin"),
        (hkd, MINTER_ROLE, "minter"),
        (hkd, DEFAULT_ADMIN_ROLE, "admin"),
    ]
    for functions, role, holder in expected:
        for name, account in who.items():
            assert functions.hasRole(role, account.address).call() is (name == holder), (role, name)

    def refused(fn: Any, name: str, role: bytes) -> None:
        with reverts("AccessControlUnauthorizedAccount", account=who[name].address, neededRole=role):
            second.sender.transact(fn, who[name])

    # A currency manager cannot pause or set the tenor; an operator cannot accept currencies.
    refused(inv.pause(), "currency_manager", OPERATOR_ROLE)
    refused(inv.setMaxTenor(DAY), "currency_manager", OPERATOR_ROLE)
    refused(inv.setCurrencyAccepted(net.hkd.address, True), "operator", CURRENCY_MANAGER_ROLE)
    # The admin grants roles but exercises none of them.
    refused(inv.pause(), "admin", OPERATOR_ROLE)
    refused(inv.setCurrencyAccepted(net.hkd.address, True), "admin", CURRENCY_MANAGER_ROLE)
    refused(reg.admit(net.addr("dev8"), "Tai Po Trading Ltd", SUPPLIER, net.now() + DAY), "admin", OPERATOR_ROLE)
    # Only the minter mints.
    for name in ("admin", "operator", "currency_manager"):
        refused(hkd.mint(who[name].address, 1), name, MINTER_ROLE)
    # Each does its own job.
    second.sender.transact(hkd.mint(net.addr("buyer"), 1), who["minter"])
    second.sender.transact(inv.setCurrencyAccepted(net.hkd.address, True), who["currency_manager"])
    second.sender.transact(
        reg.admit(net.addr("dev8"), "Tai Po Trading Ltd", SUPPLIER, net.now() + DAY), who["operator"]
    )
    second.sender.transact(inv.setMaxTenor(30 * DAY), who["operator"])
    second.sender.transact(inv.pause(), who["operator"])
    assert inv.paused().call() is True
    second.sender.transact(inv.unpause(), who["operator"])


def test_contracts_default_admin_two_step_transfer_with_delay(net: Net, tmp_path: Path) -> None:
    second, who = _second_deployment(net, tmp_path)
    inv = second.invoices.functions
    admin, successor = who["admin"], who["successor"]
    delay = int(inv.defaultAdminDelay().call())
    assert delay == net.ledger.settings.admin_delay == DAY
    with reverts("AccessControlEnforcedDefaultAdminRules"):
        second.sender.transact(inv.grantRole(DEFAULT_ADMIN_ROLE, successor.address), admin)
    with reverts("AccessControlUnauthorizedAccount", account=successor.address, neededRole=DEFAULT_ADMIN_ROLE):
        second.sender.transact(inv.beginDefaultAdminTransfer(successor.address), successor)
    receipt = second.sender.transact(inv.beginDefaultAdminTransfer(successor.address), admin)
    started = int(second.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
    pending, schedule = inv.pendingDefaultAdmin().call()
    assert (pending, schedule) == (successor.address, started + delay)
    # Accepting before the delay is refused, and only the named successor may accept.
    with reverts("AccessControlEnforcedDefaultAdminDelay", schedule=schedule):
        second.sender.transact(inv.acceptDefaultAdminTransfer(), successor)
    with reverts("AccessControlInvalidDefaultAdmin", defaultAdmin=who["operator"].address):
        second.sender.transact(inv.acceptDefaultAdminTransfer(), who["operator"])
    net.mine_at(schedule)
    with reverts("AccessControlEnforcedDefaultAdminDelay", schedule=schedule):
        second.sender.call(inv.acceptDefaultAdminTransfer(), successor.address)
    net.mine_at(schedule + 1)
    second.sender.transact(inv.acceptDefaultAdminTransfer(), successor)
    assert inv.defaultAdmin().call() == successor.address
    assert inv.hasRole(DEFAULT_ADMIN_ROLE, admin.address).call() is False
    # The new admin grants roles; the old one no longer can.
    second.sender.transact(inv.grantRole(OPERATOR_ROLE, net.addr("dev9")), successor)
    with reverts("AccessControlUnauthorizedAccount", account=admin.address, neededRole=DEFAULT_ADMIN_ROLE):
        second.sender.transact(inv.grantRole(OPERATOR_ROLE, net.addr("dev8")), admin)


# -- pause ---------------------------------------------------------------------------------


def test_contracts_pause_and_unpause(net: Net) -> None:
    receipt = net.receipt(net.ledger.set_paused(net.acct("operator"), True))
    assert [dict(e) for e in net.events(receipt, "Paused")] == [{"account": net.addr("operator")}]
    assert net.invoices.functions.paused().call() is True
    with reverts("EnforcedPause"):  # the contract's own rule (Ledger.set_paused refuses before sending)
        net.send(net.invoices.functions.pause(), "operator")
    receipt = net.receipt(net.ledger.set_paused(net.acct("operator"), False))
    assert [dict(e) for e in net.events(receipt, "Unpaused")] == [{"account": net.addr("operator")}]
    assert net.invoices.functions.paused().call() is False
    with reverts("ExpectedPause"):
        net.send(net.invoices.functions.unpause(), "operator")


def test_contracts_pause_blocks_every_state_change(net: Net) -> None:
    net.issue("INV-1")  # Issued: confirm, cancel
    net.offered(number="INV-2")  # Confirmed and listed: offer, withdraw, finance, repay, transfer, approvals
    net.approve_hkd("financier", AMOUNT)
    net.approve_hkd("buyer", AMOUNT)
    inv = net.invoices.functions
    supplier, supplier2 = net.addr("supplier"), net.addr("supplier2")
    attempts: list[tuple[str, Any, str]] = [
        ("issue", net.issue_fn("INV-3"), "supplier"),
        ("confirm", inv.confirm(1), "buyer"),
        ("cancel", inv.cancel(1), "supplier"),
        ("offer", net.offer_fn(2), "supplier"),
        ("withdraw", inv.withdrawOffer(2), "supplier"),
        ("finance", net.finance_fn(2, 90_000), "financier"),
        ("repay", inv.repay(2, 100), "buyer"),
        ("transfer", inv.transferFrom(supplier, supplier2, 2), "supplier"),
        ("safe transfer", inv.safeTransferFrom(supplier, supplier2, 2), "supplier"),
        ("approve", inv.approve(net.addr("financier2"), 2), "supplier"),
        ("approve all", inv.setApprovalForAll(net.addr("financier2"), True), "supplier"),
    ]
    # Every attempt is valid while running...
    for _, fn, who in attempts:
        net.call(fn, who)

    def state() -> Any:
        return (
            net.invoice(1),
            net.invoice(2),
            net.owner(2),
            net.listing(2),
            net.next_id(),
            inv.getApproved(2).call(),
            net.balances("supplier", "financier", "buyer"),
        )

    before = state()
    net.set_paused(True)
    refused = []
    for name, fn, who in attempts:
        with reverts("EnforcedPause"):
            net.send(fn, who)
        refused.append(name)
    assert len(refused) == len(attempts)
    assert state() == before
    net.set_paused(False)
    for _, fn, who in attempts:
        net.call(fn, who)
