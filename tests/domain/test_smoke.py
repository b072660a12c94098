import datetime as dt


def test_smoke_issue_confirm(ledger, acct):
    r = ledger.issue(acct("supplier"), "buyer", "INV-1", "100.00", "HKD", dt.date.today() + dt.timedelta(days=30))
    assert r["invoice_id"] == 1
    ledger.confirm(acct("buyer"), 1)
    assert ledger.show(1)["status"] == "Confirmed"


def test_smoke_revert_isolated(ledger):
    assert ledger.invoices.functions.nextInvoiceId().call() == 1
