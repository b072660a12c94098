"""`scf api-key create|list|revoke` (issue 16) on the indexed scenario, on SQLite
and PostgreSQL: a participant's key (named by registered name, address or
local account) and an operator's; the secret printed once, never listed; the
expiry at the end of the business day; a created key opens the API and a
revoked or expired one gets 401. Refused commands are one line (exit 2) and
leave the database as it was."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from support.bad_input import db_digest
from support.cli import refused

from ledger.cli import main
from ledger.names import DEV_ADDRESSES

BUYER = "Tsuen Wan Electronics Ltd"
BUYER_ADDRESS = DEV_ADDRESSES["buyer"]
SECRET = re.compile(r"^scf_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$")
NOBODY = "0x000000000000000000000000000000000000dEaD"


@pytest.fixture()
def cli(indexed: Any) -> Any:
    """`scf --home <copy> --rpc-url <chain> --db-url <the indexed database> ...` in-process."""
    runner = CliRunner()
    url = indexed.settings.database_url

    def run(*args: str) -> Any:
        return runner.invoke(main, ["--home", str(indexed.home), "--rpc-url", indexed.rpc_url, "--db-url", url, *args])

    run.db_url = url  # type: ignore[attr-defined]
    return run


def _ok(result: Any) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    assert "Traceback" not in result.output, result.output
    return str(result.stdout)


def _keys(cli: Any) -> list[dict[str, Any]]:
    return list(json.loads(_ok(cli("api-key", "list", "--json"))))


def _client(indexed: Any) -> Any:
    from fastapi.testclient import TestClient

    from ledger.api.app import create_app

    return TestClient(create_app(indexed.settings))


def _me(client: Any, secret: str) -> Any:
    return client.get("/api/me", headers={"Authorization": f"Bearer {secret}"})


def test_cli_api_key_create_prints_the_secret_once_and_list_never_shows_it(cli, indexed):
    result = cli("api-key", "create", "--for", "buyer", "--expires", "2099-12-31")
    secret = _ok(result).strip()
    found = SECRET.match(secret)
    assert found, result.stdout
    key_id = found.group(1)
    assert result.stdout == secret + "\n"  # only the secret on stdout: `KEY=$(scf api-key create ...)`
    assert result.stderr == (
        f"API key {key_id} for {BUYER} ({BUYER_ADDRESS}), works through 2099-12-31. The secret is shown this once: "
        "store it now (`scf api-key revoke` if it leaks).\n"
    )

    listed = cli("api-key", "list", "--json")
    assert secret not in listed.output and secret[13:] not in listed.output
    assert _keys(cli) == [
        {
            "key_id": key_id,
            "kind": "participant",
            "participant": {"address": BUYER_ADDRESS, "name": BUYER},
            "label": BUYER,
            "created_at": _keys(cli)[0]["created_at"],
            "expires_at": "2099-12-31T23:59:59+08:00",  # the end of that business day (Hong Kong)
            "revoked_at": None,
            "state": "active",
        }
    ]
    text = _ok(cli("api-key", "list"))
    assert key_id in text and BUYER_ADDRESS in text and "end of 2099-12-31" in text and "active" in text
    assert secret[13:] not in text
    # Stored hashed: the secret is nowhere in the database.
    with sa.create_engine(cli.db_url).connect() as conn:
        stored = conn.execute(sa.text("SELECT * FROM api_keys")).mappings().one()
    assert secret not in json.dumps({k: str(v) for k, v in stored.items()})


def test_cli_api_key_names_a_party_by_registered_name_address_or_account(cli):
    made = []
    for who in (BUYER, BUYER_ADDRESS.lower(), "buyer"):
        record = json.loads(_ok(cli("api-key", "create", "--for", who, "--label", f"via {who}", "--json")))
        assert set(record) == {"key_id", "secret", "kind", "participant", "label", "created_at", "expires_at",
                               "revoked_at", "state"}  # fmt: skip
        assert SECRET.match(record["secret"]) and record["secret"].startswith(f"scf_{record['key_id']}_")
        made.append((record["participant"], record["label"], record["expires_at"]))
    party = {"address": BUYER_ADDRESS, "name": BUYER}
    assert made == [
        (party, f"via {BUYER}", None),
        (party, f"via {BUYER_ADDRESS.lower()}", None),
        (party, "via buyer", None),
    ]
    assert len({k["key_id"] for k in _keys(cli)}) == 3


def test_cli_api_key_a_created_key_opens_the_api_and_a_revoked_one_gets_401(cli, indexed):
    buyer = _ok(cli("api-key", "create", "--for", "buyer")).strip()
    operator = _ok(cli("api-key", "create", "--operator", "--label", "risk engine")).strip()
    with _client(indexed) as client:
        me = _me(client, buyer)
        assert me.status_code == 200, me.text
        assert (me.json()["party"], me.json()["roles"], me.json()["sees_all"]) == (
            {"address": BUYER_ADDRESS, "name": BUYER},
            ["buyer"],
            False,
        )
        boss = _me(client, operator).json()
        assert (boss["kind"], boss["party"], boss["name"], boss["sees_all"]) == ("operator", None, "risk engine", True)

        key_id = SECRET.match(buyer).group(1)  # type: ignore[union-attr]
        result = cli("api-key", "revoke", key_id)
        assert _ok(result).startswith(f"API key {key_id} revoked (")
        gone = _me(client, buyer)
        assert gone.status_code == 401 and gone.headers["content-type"] == "application/problem+json"
        assert gone.json()["detail"] == "the API key is unknown, expired or revoked; ask the operator for a new one"
        assert _me(client, operator).status_code == 200  # the other key is untouched


def test_cli_api_key_revoke_takes_the_whole_secret_and_twice_changes_nothing(cli):
    secret = _ok(cli("api-key", "create", "--operator", "--label", "erp")).strip()
    key_id = secret[4:12]
    first = json.loads(_ok(cli("api-key", "revoke", secret, "--json")))
    assert (first["key_id"], first["state"], first["already_revoked"]) == (key_id, "revoked", False)
    before = db_digest(cli.db_url)
    again = cli("api-key", "revoke", key_id)
    assert _ok(again).startswith(f"API key {key_id} was already revoked (")
    assert db_digest(cli.db_url) == before  # the first revocation's time stays
    assert [(k["key_id"], k["state"], k["revoked_at"]) for k in _keys(cli)] == [
        (key_id, "revoked", first["revoked_at"])
    ]


def test_cli_api_key_a_key_past_its_expiry_is_listed_expired_and_gets_401(cli, indexed):
    from ledger.business_time import today

    secret = _ok(cli("api-key", "create", "--for", "supplier", "--expires", today().isoformat())).strip()
    with _client(indexed) as client:
        assert _me(client, secret).status_code == 200  # works through the end of today
        with sa.create_engine(cli.db_url).begin() as conn:  # ... and then the day ends
            conn.execute(sa.text("UPDATE api_keys SET expires_at = :t"), {"t": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)})
        assert [k["state"] for k in _keys(cli)] == ["expired"]
        assert _me(client, secret).status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--for", "nobody"),
            "unknown participant 'nobody': no participant or local account has that name; give a registered "
            "name, an account name or an address (see `scf participant list`)",
        ),
        (
            ("--for", NOBODY),
            f"{NOBODY} ({NOBODY}) is not a participant in the indexed registry (indexed up to block {{block}}); "
            "see `scf participant list`, or run `scf index sync` if it was added just now",
        ),
        (("--for", "buyer", "--expires", "2020-01-31"), "--expires 2020-01-31 has passed; give today or a later date"),
        (
            ("--for", "buyer", "--expires", "31/01/2099"),
            "invalid --expires date '31/01/2099': use YYYY-MM-DD, for example 2027-01-31",
        ),
        (("--operator",), "an operator key needs --label saying what it is for"),
        ((), "give --for NAME (a participant's key) or --operator (with --label), not both or neither"),
        (
            ("--for", "buyer", "--operator", "--label", "x"),
            "give --for NAME (a participant's key) or --operator (with --label), not both or neither",
        ),
        (("--operator", "--label", " "), "invalid --label ' ': give 1 to 200 printable characters"),
    ],
    ids=[
        "unknown-name",
        "not-a-participant",
        "past-expiry",
        "bad-date",
        "operator-no-label",
        "neither",
        "both",
        "blank-label",
    ],  # fmt: skip
)
def test_cli_api_key_create_refusals_are_one_line_and_change_nothing(cli, scenario, args, message):
    before = db_digest(cli.db_url)
    refused(cli("api-key", "create", *args), 2, message.format(block=scenario.end))
    assert db_digest(cli.db_url) == before


def test_cli_api_key_revoke_refusals_are_one_line_and_change_nothing(cli):
    _ok(cli("api-key", "create", "--operator", "--label", "erp"))
    before = db_digest(cli.db_url)
    refused(cli("api-key", "revoke", "0badc0de"), 2, "no API key 0badc0de; see `scf api-key list`")
    refused(
        cli("api-key", "revoke", "not-a-key"),
        2,
        "'not-a-key'... is not an API key id; give the 8 hex digits `scf api-key list` shows",
    )
    assert db_digest(cli.db_url) == before


def test_cli_api_key_list_with_no_keys_says_how_to_make_one(cli):
    assert _ok(cli("api-key", "list")) == "no API keys yet; make one with `scf api-key create --for NAME`\n"
    assert _keys(cli) == []
