"""Gasless confirmation over HTTP (issue 16): ``POST /api/confirmations`` of a
buyer's EIP-712 signed confirmation, made in the test with the buyer's key as
a client would (``ledger.evm.confirmations.sign``), submitted by the server's
relayer account on the real chain. The contract is read directly to see what
happened; the buyer sends nothing and pays nothing. Forged, replayed and
malformed documents change nothing on chain."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from support.scenario import index

from ledger.names import DEV_ADDRESSES, InvoiceStatus

RELAYER = "financier"
DOWN = "http://127.0.0.1:9"  # the discard port: nothing listens there


class Book:
    """The chain side of a test, and the app with a relayer over the indexed scenario."""

    def __init__(self, indexed: Any, client: Any, ledger: Any, acct: Any, key: str) -> None:
        self.indexed, self.client, self.ledger, self.acct, self.key = indexed, client, ledger, acct, key

    @property
    def w3(self) -> Any:
        return self.ledger.w3

    def head(self) -> int:
        return int(self.w3.eth.block_number)

    def issue(self, number: str, amount: str = "42.00", buyer: str = "buyer") -> int:
        made = self.ledger.issue(self.acct("supplier"), buyer, number, amount, "HKD", dt.date(2099, 5, 31), None)
        return int(made["invoice_id"])

    def state(self, invoice_id: int) -> Any:
        from ledger.evm.invoice import ChainInvoice

        return ChainInvoice.from_struct(self.ledger.invoices.functions.getInvoice(invoice_id).call())

    def signed(
        self, invoice_id: int, number: str, signer: str = "buyer", nonce: int | None = None, **changes: Any
    ) -> dict[str, Any]:
        """A signed confirmation of the invoice's terms as the buyer's ERP knows them,
        signed with ``signer``'s key (the buyer's unless forged), as
        `scf invoice sign-confirmation` writes it."""
        from ledger.evm.confirmations import Confirmation, Domain, sign
        from ledger.intake import signed_record

        state = self.state(invoice_id)
        domain = Domain(int(self.w3.eth.chain_id), self.ledger.invoices.address)
        conf = Confirmation(
            state.buyer, state.supplier, number, state.currency, state.amount, state.due_ts,
            secrets.randbits(200) if nonce is None else nonce, self.ledger.chain_time() + 7 * 86400,
        )  # fmt: skip
        signature = sign(self.acct(signer), domain, conf)
        record = signed_record(domain, conf, signature, conf.buyer, invoice_id, None)
        return record | changes

    def post(self, body: Any, key: str | None = "default", content_type: str = "application/json") -> Any:
        headers = {"Content-Type": content_type}
        if key is not None:
            headers["Authorization"] = f"Bearer {self.key if key == 'default' else key}"
        content = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.client.post("/api/confirmations", content=content, headers=headers)


def _key(settings: Any, who: str | None) -> str:
    from ledger.api.keys import create_key
    from ledger.db.session import get_engine

    with get_engine(settings.database_url).begin() as conn:
        _row, secret = create_key(conn, participant=None if who is None else DEV_ADDRESSES[who], label=f"{who} key")
    return secret


def _app(settings: Any, relayer: str | None = RELAYER) -> Any:
    from fastapi.testclient import TestClient

    from ledger.api.app import create_app

    return TestClient(create_app(settings, relayer=relayer))


@pytest.fixture()
def book(indexed: Any, ledger: Any, acct: Any) -> Iterator[Book]:
    """The app with relayer `financier` over the indexed scenario; the key used is the buyer's."""
    with _app(indexed.settings) as client:
        yield Book(indexed, client, ledger, acct, _key(indexed.settings, "buyer"))


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert (body["status"], body["instance"]) == (status, "/api/confirmations")
    return body


# -- a confirmation relayed ------------------------------------------------------------------------
def test_relay_confirms_a_buyers_signed_confirmation_on_chain_and_the_buyer_pays_nothing(book):
    invoice_id = book.issue("INV-R-1")
    record = book.signed(invoice_id, "INV-R-1")
    buyer = DEV_ADDRESSES["buyer"]
    buyer_nonce, buyer_balance = book.w3.eth.get_transaction_count(buyer), book.w3.eth.get_balance(buyer)
    assert book.state(invoice_id).status == InvoiceStatus.ISSUED

    response = book.post(record)
    assert response.status_code == 200, response.text
    body = response.json()
    key_id = book.key[4:12]
    assert body == {
        "transaction": body["transaction"],
        "block": body["block"],
        "transactions": [body["transaction"]],
        "confirmed": [invoice_id],
        "skipped": [],
        "failed": [],
        "relayer": {"address": DEV_ADDRESSES[RELAYER], "name": "Harbour Trade Finance Ltd"},
        "submitted_by": key_id,
    }
    # On chain, read from the contract itself: confirmed, by the relayer's transaction.
    assert book.state(invoice_id).status == InvoiceStatus.CONFIRMED
    receipt = book.w3.eth.get_transaction_receipt(body["transaction"])
    assert (receipt["status"], receipt["blockNumber"], receipt["from"]) == (1, body["block"], DEV_ADDRESSES[RELAYER])
    # The buyer signed offline: it sent nothing and paid no gas.
    assert (book.w3.eth.get_transaction_count(buyer), book.w3.eth.get_balance(buyer)) == (buyer_nonce, buyer_balance)

    # And in the API once indexed.
    index(book.indexed.settings)
    shown = book.client.get(f"/api/invoices/{invoice_id}", headers={"Authorization": f"Bearer {book.key}"})
    assert shown.status_code == 200, shown.text
    assert (shown.json()["number"], shown.json()["status"]) == ("INV-R-1", "Confirmed")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_relay_takes_the_signatures_file_as_json_lines_or_an_array_in_one_transaction(book):
    ids = [book.issue(f"INV-R-{n}") for n in range(1, 5)]
    records = [book.signed(i, f"INV-R-{n}") for n, i in enumerate(ids, start=1)]
    lines = "".join(json.dumps(r) + "\n" for r in records[:2])  # the file `sign-confirmation` writes
    head = book.head()
    first = book.post(lines, content_type="application/x-ndjson")
    assert first.status_code == 200, first.text
    assert (first.json()["confirmed"], book.head()) == (ids[:2], head + 1)
    second = book.post(records[2:])
    assert second.status_code == 200, second.text
    assert second.json()["confirmed"] == ids[2:]
    assert [book.state(i).status for i in ids] == [InvoiceStatus.CONFIRMED] * 4


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_relay_any_key_may_submit_the_signature_is_the_authority(book):
    invoice_id = book.issue("INV-R-1")
    supplier2 = _key(book.indexed.settings, "supplier2")  # a party with no stake in the invoice
    response = book.post(book.signed(invoice_id, "INV-R-1"), key=supplier2)
    assert response.status_code == 200, response.text
    assert response.json()["submitted_by"] == supplier2[4:12]
    assert book.state(invoice_id).status == InvoiceStatus.CONFIRMED


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_relay_sends_the_good_signatures_and_reports_the_skipped(book):
    good, forged = book.issue("INV-R-1"), book.issue("INV-R-2")
    response = book.post([book.signed(good, "INV-R-1"), book.signed(forged, "INV-R-2", signer="supplier")])
    assert response.status_code == 200, response.text
    assert (response.json()["confirmed"], response.json()["skipped"]) == (
        [good],
        [{"line": 2, "invoice": None, "number": "INV-R-2", "reason": "the signature is not the buyer's"}],
    )
    assert [book.state(i).status for i in (good, forged)] == [InvoiceStatus.CONFIRMED, InvoiceStatus.ISSUED]


# -- refused: nothing sent -------------------------------------------------------------------------
def test_relay_a_forged_signature_is_409_and_the_chain_is_unchanged(book):
    invoice_id = book.issue("INV-R-1")
    forged = book.signed(invoice_id, "INV-R-1", signer="supplier")  # the supplier signs as if it were the buyer
    head = book.head()
    body = _problem(book.post(forged), 409)
    assert body["detail"] == "nothing was confirmed: line 1: the signature is not the buyer's"
    assert body["skipped"] == [
        {"line": 1, "invoice": None, "number": "INV-R-1", "reason": "the signature is not the buyer's"}
    ]
    assert (body["transactions"], body["submitted_by"]) == ([], book.key[4:12])
    assert (book.head(), book.state(invoice_id).status) == (head, InvoiceStatus.ISSUED)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_relay_a_replayed_signature_is_409_and_so_is_its_nonce_on_another_invoice(book):
    first, second = book.issue("INV-R-1"), book.issue("INV-R-2")
    record = book.signed(first, "INV-R-1")
    assert book.post(record).status_code == 200
    head = book.head()
    again = _problem(book.post(record), 409)
    assert again["skipped"] == [
        {"line": 1, "invoice": first, "number": "INV-R-1", "reason": f"invoice {first} is Confirmed, not Issued"}
    ]
    # The same nonce on another invoice: used once, never again.
    nonce = int(record["nonce"])
    reused = _problem(book.post(book.signed(second, "INV-R-2", nonce=nonce)), 409)
    assert reused["skipped"] == [
        {"line": 1, "invoice": second, "number": "INV-R-2", "reason": f"nonce {nonce} was used or revoked"}
    ]
    assert reused["detail"] == f"nothing was confirmed: line 1 (invoice {second}): nonce {nonce} was used or revoked"
    assert (book.head(), book.state(second).status) == (head, InvoiceStatus.ISSUED)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("", "the body is empty: send the signatures document of `scf invoice sign-confirmation` (JSON Lines), "
             "one signed confirmation (a JSON object) or a JSON array of them"),
        ("[]", "the array is empty: send at least one signed confirmation"),
        ("not json", "line 1 is not JSON (one signed confirmation per line); nothing was sent"),
        ('{"chain_id": 31337}', "line 1 is not a signed confirmation: missing field number; nothing was sent"),
        ("[1, 2]", "line 1 is not a signed confirmation: not a JSON object (and 1 more bad); nothing was sent"),
        (b"\xff\xfe{}", "the body is not UTF-8 text (byte 1); send the document as UTF-8"),
        # Deep enough to overflow the C stack once web3 has raised the recursion limit (the relay imports it).
        ("[" * 100_000, "the body nests JSON more than 16 levels deep: it holds no signed confirmation"),
        ("{}\n" + "[\n" * 100_000, "the body nests JSON more than 16 levels deep: it holds no signed confirmation"),
    ],
    ids=["empty", "empty-array", "not-json", "missing-field", "not-objects", "not-utf8", "deep", "deep-line"],
)  # fmt: skip
def test_relay_a_malformed_body_is_400_and_sends_nothing(book, body, detail):
    head = book.head()
    problem = _problem(book.post(body), 400)
    assert problem["detail"] == detail
    assert book.head() == head


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_relay_a_body_over_the_limit_is_413(book):
    from ledger.api.relay import MAX_BODY

    problem = _problem(book.post(b"[" + b" " * MAX_BODY + b"]"), 413)
    assert problem["detail"] == "the body is over 8 MiB: send the signatures in several documents"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_relay_a_bad_field_is_400_naming_it_and_nothing_is_sent(book):
    good, other = book.issue("INV-R-1"), book.issue("INV-R-2")
    records = [book.signed(good, "INV-R-1"), book.signed(other, "INV-R-2", amount="12.5")]
    head = book.head()
    problem = _problem(book.post(records), 400)
    assert problem["detail"] == "line 2 is not a signed confirmation: amount is not a whole number; nothing was sent"
    assert problem["errors"] == [{"line": 2, "reason": "is not a signed confirmation: amount is not a whole number"}]
    wrong_chain = _problem(book.post(book.signed(good, "INV-R-1", chain_id=1)), 400)
    contract = book.ledger.invoices.address
    assert wrong_chain["detail"] == (
        f"the posted document line 1 was signed for chain 1, contract {contract}; this deployment is chain 31337, "
        f"contract {contract}: nothing was sent"
    )
    assert (book.head(), book.state(good).status) == (head, InvoiceStatus.ISSUED)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_relay_without_a_valid_key_is_401(book):
    from ledger.api.keys import key_id_of, revoke_key
    from ledger.db.session import get_engine

    invoice_id = book.issue("INV-R-1")
    record = book.signed(invoice_id, "INV-R-1")
    head = book.head()
    missing = _problem(book.post(record, key=None), 401)
    assert missing["detail"] == (
        "an API key is needed: send `Authorization: Bearer <key>` (make one with `scf api-key create`)"
    )
    assert _problem(book.post(record, key="scf_00000000_" + "A" * 43), 401)["detail"] == (
        "the API key is unknown, expired or revoked; ask the operator for a new one"
    )
    with get_engine(book.indexed.settings.database_url).begin() as conn:
        revoke_key(conn, key_id_of(book.key))
    _problem(book.post(record), 401)
    assert (book.head(), book.state(invoice_id).status) == (head, InvoiceStatus.ISSUED)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_relay_is_absent_from_a_server_without_a_relayer(indexed):
    with _app(indexed.settings, relayer=None) as client:
        secret = _key(indexed.settings, "buyer")
        response = client.post("/api/confirmations", content="{}", headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 404, response.text
        assert "/api/confirmations" not in client.get("/openapi.json").json()["paths"]
    with _app(indexed.settings) as client:
        assert "/api/confirmations" in client.get("/openapi.json").json()["paths"]


# -- the node and the relayer ----------------------------------------------------------------------
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_relay_with_the_node_away_is_503(book):
    from dataclasses import replace

    invoice_id = book.issue("INV-R-1")
    record = book.signed(invoice_id, "INV-R-1")
    with _app(replace(book.indexed.settings, rpc_url=DOWN)) as client:
        away = client.post("/api/confirmations", json=record, headers={"Authorization": f"Bearer {book.key}"})
    # The node's URL (which may hold a provider's key) and the CLI's remedy are for the server log only.
    assert _problem(away, 503)["detail"] == (
        "the ledger's node is unavailable and nothing was sent; post the document again later"
    )
    assert away.headers["retry-after"] == "5" and DOWN not in away.text
    assert book.state(invoice_id).status == InvoiceStatus.ISSUED


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_relay_node_lost_while_sending_tells_the_client_to_look_before_posting_again(
    book: Book, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The node lost while the relayer sends (its confirmation may be mined all the
    same): a 503 that tells the client to look the invoices up before posting again,
    without the node's URL (here with a provider's key in it) or the CLI's advice,
    which go to the server log."""
    import logging

    from ledger.errors import NodeLost
    from ledger.intake import Intake

    tx = "0x" + "ef" * 32
    url = "https://rpc.example.org/v3/SECRET-PROVIDER-KEY"

    def lost(*_args: Any, **_kwargs: Any) -> Any:
        raise NodeLost(url, "timed out", tx, sent=None)

    monkeypatch.setattr(Intake, "submit_confirmations", lost)
    with caplog.at_level(logging.WARNING, "ledger.api.relay"):
        response = book.post({"number": "INV-R-LOST"})  # read by the submission, which is lost here
    assert _problem(response, 503)["detail"] == (
        "the ledger's node stopped answering while the confirmations were being sent: some may be confirmed all "
        "the same; look the invoices up (GET /api/invoices/{id}) before posting the document again (a signature "
        "already used is refused, never used twice)"
    )
    assert response.headers["retry-after"] == "5"
    assert "SECRET-PROVIDER-KEY" not in response.text and "scf tx show" not in response.text
    [logged] = caplog.messages
    assert logged.endswith(f"the node at {url} went away while transaction {tx} was being sent (timed out): it may "
                           f"or may not have reached it; once the node is back, see `scf tx show {tx}` before "
                           "sending it again")  # fmt: skip


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_relay_while_another_command_sends_as_the_relayer_is_503_with_retry_after(book):
    from ledger.intake import Intake

    invoice_id = book.issue("INV-R-1")
    record = book.signed(invoice_id, "INV-R-1")
    head = book.head()
    with Intake(book.ledger)._sending_as(DEV_ADDRESSES[RELAYER]):  # e.g. `scf invoice approve --as financier`
        busy = book.post(record)
    problem = _problem(busy, 503)
    assert problem["detail"] == (
        f"the relayer {DEV_ADDRESSES[RELAYER]} is sending other transactions to this node (another scf command); "
        "retry in a moment"
    )
    assert busy.headers["retry-after"] == "5"
    assert (book.head(), book.state(invoice_id).status) == (head, InvoiceStatus.ISSUED)
    assert book.post(record).status_code == 200  # released: the same document goes through


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_relay_an_encrypted_relayer_needs_its_password(indexed, monkeypatch):
    from ledger.api.relay import Relayer
    from ledger.errors import InputError
    from ledger.evm.accounts import Keystore

    Keystore(indexed.settings).create("relayer", "s3cret-pass")
    monkeypatch.delenv("SCF_PASSWORD", raising=False)
    monkeypatch.delenv("SCF_RELAYER_PASSWORD", raising=False)
    with pytest.raises(InputError, match="account 'relayer' is encrypted: set SCF_RELAYER_PASSWORD"):
        Relayer(indexed.settings, "relayer")
    with pytest.raises(InputError, match="wrong password for account 'relayer'"):
        Relayer(indexed.settings, "relayer", "wrong")
    monkeypatch.setenv("SCF_RELAYER_PASSWORD", "s3cret-pass")
    relayer = Relayer(indexed.settings, "relayer")
    assert (relayer.address, relayer.dev) == (Keystore(indexed.settings).address("relayer"), False)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_relay_a_relayer_that_cannot_be_unlocked_is_503(indexed, monkeypatch):
    from ledger.evm.accounts import Keystore

    Keystore(indexed.settings).create("relayer", "s3cret-pass")
    monkeypatch.setenv("SCF_RELAYER_PASSWORD", "wrong")
    with _app(indexed.settings, relayer="relayer") as client:
        secret = _key(indexed.settings, "buyer")
        response = client.post("/api/confirmations", json={}, headers={"Authorization": f"Bearer {secret}"})
    assert _problem(response, 503)["detail"] == "the relayer cannot submit: wrong password for account 'relayer'"


def test_relay_a_forged_signature_learns_nothing_of_the_invoices_it_names(book):
    """Whoever posts a signature that is not the buyer's gets the same answer
    whether the number it names exists or not, and whatever terms it claims:
    no id, no buyer, no amount, no status (the relay answers any key)."""
    invoice_id = book.issue("INV-R-1")
    book.ledger.confirm(book.acct("buyer"), invoice_id)  # Confirmed: a reason of its own, were it told
    probes = [
        book.signed(invoice_id, "INV-R-1", signer="supplier"),
        book.signed(invoice_id, "INV-R-1", signer="supplier", amount="1"),
        book.signed(invoice_id, "INV-R-404", signer="supplier"),
        book.signed(invoice_id, "INV-R-1", signer="supplier", buyer=book.acct("buyer2").address),
    ]
    head = book.head()
    body = _problem(book.post(probes), 409)
    assert [(s["invoice"], s["reason"]) for s in body["skipped"]] == [(None, "the signature is not the buyer's")] * 4
    assert str(invoice_id) not in body["detail"] and "Confirmed" not in body["detail"]
    assert book.head() == head


def test_relay_more_confirmations_than_one_document_takes_is_413_and_sends_nothing(book):
    from ledger.api.relay import MAX_CONFIRMATIONS

    invoice_id = book.issue("INV-R-1")
    one = book.signed(invoice_id, "INV-R-1")
    head = book.head()
    problem = _problem(book.post([one] * (MAX_CONFIRMATIONS + 1)), 413)
    assert problem["detail"].startswith(f"more than {MAX_CONFIRMATIONS} signed confirmations in one document")
    assert (book.head(), book.state(invoice_id).status) == (head, InvoiceStatus.ISSUED)
