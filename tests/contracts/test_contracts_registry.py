"""The rules of ParticipantRegistry: admission, updates, names, and what a
suspended, KYC-expired or role-lacking participant cannot do.

Every rule the contracts enforce has a test that tries to break it by calling
the contract directly (``contract.functions.X(...)`` through ``Net.send`` of
``support.contracts``), not through ``Ledger`` helpers that may check first.
Every revert is checked by its custom error and by the values it carries; the
base scenario of ``conftest.py`` is restored after each test by the ``chain``
fixture. Tests named ``..._attack_...`` reproduce an attack and show that it is
repelled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest.mock import ANY

import pytest
from support.contracts import (
    AUDITOR,
    BUYER,
    CANCELLED,
    CONFIRMED,
    DAY,
    FINANCED,
    FINANCIER,
    ISSUED,
    SUPPLIER,
    ZERO_ADDRESS,
    Net,
    reverts,
)

# -- registry --------------------------------------------------------------------------------


def test_contracts_registry_admit(net: Net) -> None:
    expiry = net.now() + 30 * DAY
    receipt = net.send(
        net.registry.functions.admit(net.addr("dev8"), "Tai Po Trading Ltd", SUPPLIER | BUYER, expiry), "operator"
    )
    (admitted,) = net.events(receipt, "ParticipantAdmitted", net.registry)
    assert dict(admitted) == {
        "account": net.addr("dev8"),
        "name": "Tai Po Trading Ltd",
        "roles": SUPPLIER | BUYER,
        "kycExpiry": expiry,
    }
    assert tuple(net.registry.functions.participant(net.addr("dev8")).call()) == (
        "Tai Po Trading Ltd",
        SUPPLIER | BUYER,
        expiry,
        True,
        False,
    )
    assert net.registry.functions.isActive(net.addr("dev8"), SUPPLIER | BUYER).call() is True
    assert net.registry.functions.isActive(net.addr("dev8"), FINANCIER).call() is False


def test_contracts_registry_admit_twice(net: Net) -> None:
    with reverts("ParticipantAlreadyAdmitted", account=net.addr("supplier")):
        net.admit("supplier", "Another Name Ltd", SUPPLIER)


def test_contracts_registry_zero_address(net: Net) -> None:
    with reverts("InvalidParticipant", account=ZERO_ADDRESS):
        net.send(net.registry.functions.admit(ZERO_ADDRESS, "Nobody", SUPPLIER, net.now() + DAY), "operator")


@pytest.mark.parametrize("roles", [0, 16, 255])
def test_contracts_registry_invalid_roles(net: Net, roles: int) -> None:
    with reverts("InvalidRoles", roles=roles):
        net.admit("dev8", "Tai Po Trading Ltd", roles)
    with reverts("InvalidRoles", roles=roles):
        net.send(net.registry.functions.updateParticipant(net.addr("supplier"), roles, net.now() + DAY), "operator")


def test_contracts_registry_kyc_expiry_not_in_future(net: Net) -> None:
    net.mine_at(net.now() + 10)
    now = net.now()
    for expiry in (now, now - DAY, 0):
        with reverts("InvalidKycExpiry", kycExpiry=expiry):
            net.call(net.registry.functions.admit(net.addr("dev8"), "Tai Po Trading Ltd", SUPPLIER, expiry), "operator")
        with reverts("InvalidKycExpiry", kycExpiry=expiry):
            net.call(net.registry.functions.updateParticipant(net.addr("supplier"), SUPPLIER, expiry), "operator")


def test_contracts_registry_unknown_participant(net: Net) -> None:
    dev9 = net.addr("dev9")
    for fn in (
        net.registry.functions.updateParticipant(dev9, SUPPLIER, net.now() + DAY),
        net.registry.functions.rename(dev9, "Nobody Ltd"),
        net.registry.functions.suspend(dev9),
        net.registry.functions.reinstate(dev9),
    ):
        with reverts("ParticipantNotAdmitted", account=dev9):
            net.send(fn, "operator")


def test_contracts_registry_update_participant(net: Net) -> None:
    expiry = net.now() + 10 * DAY
    receipt = net.send(
        net.registry.functions.updateParticipant(net.addr("supplier"), SUPPLIER | BUYER, expiry), "operator"
    )
    (updated,) = net.events(receipt, "ParticipantUpdated", net.registry)
    assert dict(updated) == {"account": net.addr("supplier"), "roles": SUPPLIER | BUYER, "kycExpiry": expiry}
    assert net.kyc_expiry("supplier") == expiry


def test_contracts_registry_rename(net: Net) -> None:
    new_name = "Kowloon Precision Holdings Ltd"
    receipt = net.send(net.registry.functions.rename(net.addr("supplier"), new_name), "operator")
    (renamed,) = net.events(receipt, "ParticipantRenamed", net.registry)
    assert dict(renamed) == {"account": net.addr("supplier"), "name": "Kowloon Precision Holdings Ltd"}
    name, roles, _, admitted, suspended = net.registry.functions.participant(net.addr("supplier")).call()
    assert (name, roles, admitted, suspended) == ("Kowloon Precision Holdings Ltd", SUPPLIER, True, False)
    assert net.ledger.participant_names(refresh=True)[net.addr("supplier")] == "Kowloon Precision Holdings Ltd"
    # 128 bytes is the limit, counted in UTF-8 bytes; non-ASCII names are fine.
    for longest in ("N" * 128, "九龍精密零件有限公司" * 4 + "Ltd" + "x" * 5):
        assert len(longest.encode()) == 128
        net.send(net.registry.functions.rename(net.addr("supplier"), longest), "operator")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "N" * 129,
        "九" * 43,
        "Evil\nLtd",
        "Evil\x1b[2JLtd",
        "Evil\rLtd",
        "Evil\x00Ltd",
        "Evil\x7fLtd",
        "\t",
        "Evil\x9b2JLtd",
        "Evil\x85Ltd",
    ],
    ids=[
        "empty",
        "129-bytes",
        "129-bytes-utf8",
        "newline",
        "escape",
        "carriage-return",
        "nul",
        "delete",
        "tab",
        "c1-csi",
        "c1-next-line",
    ],
)
def test_contracts_attack_registry_invalid_name_refused(net: Net, name: str) -> None:
    with reverts("InvalidName", name=name):
        net.send(net.registry.functions.rename(net.addr("supplier"), name), "operator")
    with reverts("InvalidName", name=name):
        net.admit("dev8", name, SUPPLIER)
    assert net.registry.functions.participant(net.addr("supplier")).call()[0] == "Kowloon Precision Parts Ltd"


def test_contracts_registry_renew_expired_kyc_restores_active(net: Net) -> None:
    expiry = net.kyc_expiry("supplier")
    net.mine_at(expiry + DAY)
    assert net.registry.functions.isActive(net.addr("supplier"), SUPPLIER).call() is False
    with reverts("ParticipantKycExpired", account=net.addr("supplier"), kycExpiry=expiry, nowTimestamp=ANY):
        net.send(net.issue_fn(due_ts=net.now() + 30 * DAY), "supplier")
    renewed = net.now() + 365 * DAY
    receipt = net.send(net.registry.functions.updateParticipant(net.addr("supplier"), SUPPLIER, renewed), "operator")
    assert [dict(e) for e in net.events(receipt, "ParticipantUpdated", net.registry)] == [
        {"account": net.addr("supplier"), "roles": SUPPLIER, "kycExpiry": renewed}
    ]
    assert net.registry.functions.isActive(net.addr("supplier"), SUPPLIER).call() is True
    # The buyer's KYC lapsed too: renew it, then business goes on.
    net.send(net.registry.functions.updateParticipant(net.addr("buyer"), BUYER, renewed), "operator")
    assert net.issue_raw(due_ts=net.now() + 30 * DAY) == 1


def _suspend_then(net: Net, who: str, action: Callable[[], Any]) -> None:
    operator = net.acct("operator")
    receipt = net.receipt(net.ledger.set_suspended(operator, net.addr(who), True))
    assert [dict(e) for e in net.events(receipt, "ParticipantSuspended", net.registry)] == [{"account": net.addr(who)}]
    assert net.registry.functions.isActive(net.addr(who), 0).call() is False
    with reverts("ParticipantIsSuspended", account=net.addr(who)):
        action()
    receipt = net.receipt(net.ledger.set_suspended(operator, net.addr(who), False))
    assert [dict(e) for e in net.events(receipt, "ParticipantReinstated", net.registry)] == [{"account": net.addr(who)}]
    action()


def test_contracts_suspended_supplier_cannot_issue(net: Net) -> None:
    _suspend_then(net, "supplier", lambda: net.send(net.issue_fn(), "supplier"))
    assert net.invoice(1)["status"] == ISSUED


def test_contracts_suspended_buyer_cannot_confirm(net: Net) -> None:
    net.issue()
    _suspend_then(net, "buyer", lambda: net.send(net.invoices.functions.confirm(1), "buyer"))
    assert net.invoice(1)["status"] == CONFIRMED


def test_contracts_suspended_supplier_cannot_cancel(net: Net) -> None:
    net.issue()
    _suspend_then(net, "supplier", lambda: net.send(net.invoices.functions.cancel(1), "supplier"))
    assert net.invoice(1)["status"] == CANCELLED


def test_contracts_suspended_financier_cannot_finance(net: Net) -> None:
    net.offered()
    net.approve_hkd("financier", 90_000)
    _suspend_then(net, "financier", lambda: net.send(net.finance_fn(1, 90_000), "financier"))
    assert net.invoice(1)["status"] == FINANCED


def test_contracts_suspended_holder_cannot_list(net: Net) -> None:
    net.confirmed()
    _suspend_then(net, "supplier", lambda: net.send(net.offer_fn(1), "supplier"))
    assert net.listing(1)[2] == 50_000


def test_contracts_suspended_holder_cannot_sell(net: Net) -> None:
    net.offered()
    net.approve_hkd("financier", 90_000)
    _suspend_then(net, "supplier", lambda: net.send(net.finance_fn(1, 90_000), "financier"))


def test_contracts_suspended_buyer_cannot_receive_invoices(net: Net) -> None:
    _suspend_then(net, "buyer", lambda: net.send(net.issue_fn(), "supplier"))


def test_contracts_kyc_expired_cannot_act(net: Net) -> None:
    net.issue("INV-1", days=5 * 365)  # due after everyone's KYC (3 years) lapses
    buyer_expiry = net.kyc_expiry("buyer")
    net.advance_time(buyer_expiry - net.now() + DAY)
    with reverts("ParticipantKycExpired", account=net.addr("buyer"), kycExpiry=buyer_expiry, nowTimestamp=ANY) as info:
        net.send(net.invoices.functions.confirm(1), "buyer")
    assert info.value.error_args["nowTimestamp"] >= buyer_expiry + DAY
    supplier_expiry = net.kyc_expiry("supplier")
    with reverts("ParticipantKycExpired", account=net.addr("supplier"), kycExpiry=supplier_expiry, nowTimestamp=ANY):
        net.send(net.invoices.functions.cancel(1), "supplier")
    # The operator renews the buyer's KYC: it can act again.
    net.send(net.registry.functions.updateParticipant(net.addr("buyer"), BUYER, net.now() + 365 * DAY), "operator")
    net.send(net.invoices.functions.confirm(1), "buyer")
    assert net.invoice(1)["status"] == CONFIRMED


def test_contracts_kyc_valid_strictly_before_expiry(net: Net) -> None:
    expiry = net.now() + 1000
    net.send(net.registry.functions.updateParticipant(net.addr("financier"), FINANCIER, expiry), "operator")
    require = net.registry.functions.requireActive(net.addr("financier"), FINANCIER)
    net.mine_at(expiry - 1)
    net.call(require)
    assert net.registry.functions.isActive(net.addr("financier"), FINANCIER).call() is True
    net.mine_at(expiry)
    with reverts("ParticipantKycExpired", account=net.addr("financier"), kycExpiry=expiry, nowTimestamp=expiry):
        net.call(require)
    assert net.registry.functions.isActive(net.addr("financier"), FINANCIER).call() is False


def test_contracts_lacking_role_cannot_act(net: Net) -> None:
    net.issue()
    # The buyer loses its buyer role (kept as auditor): it can no longer confirm.
    net.send(net.registry.functions.updateParticipant(net.addr("buyer"), AUDITOR, net.now() + DAY), "operator")
    with reverts("ParticipantLacksRole", account=net.addr("buyer"), role=BUYER, roles=AUDITOR):
        net.send(net.invoices.functions.confirm(1), "buyer")
    with reverts("ParticipantLacksRole", account=net.addr("financier"), role=SUPPLIER, roles=FINANCIER):
        net.send(net.issue_fn("INV-2", buyer="buyer2"), "financier")
