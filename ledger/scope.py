"""The deployment a query reads (:class:`Scope`), found from the database's
cursors and this data directory's deployment records; the checks every query
makes of it; and participant names by address (:class:`Directory`).

Reads the database only, never web3 (the read side; ``lint-imports`` checks it).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from ledger.config import Settings
from ledger.db.session import read_connection
from ledger.db.tables import BLOCKS, CURSORS, EVENTS
from ledger.deployment import Currency, Deployment
from ledger.errors import DatabaseError, DeploymentError, InputError, UnknownCurrency, UnknownInvoice
from ledger.format import amount, iso_time, label, party
from ledger.names import checksum, resolve

#: The largest invoice id (and SQL LIMIT) the database can hold: a BIGINT.
#: Ids above it are not projected (their events keep them in ``args``).
BIGINT_MAX = 2**63 - 1


# -- scope: which deployment on which chain ------------------------------------------------
@dataclass(frozen=True)
class Scope:
    """One deployment on one chain, whose ledger is shown or decided on: its
    contracts, the currencies (symbol, decimals) from its deployment record,
    the indexed block (when read from a cursor) and where the local keystores
    are (to resolve account names)."""

    chain_id: int
    invoice_contract: str
    registry_contract: str
    indexed_block: int | None = None
    #: lower-case address -> currency of the deployment record.
    currencies: Mapping[str, Currency] = field(default_factory=dict)
    keystore_dir: Path | None = None

    @classmethod
    def of(cls, deployment: Deployment, keystore_dir: Path | None = None) -> Scope:
        c = deployment.contracts
        return cls(
            deployment.chain_id,
            checksum(c["InvoiceToken"].address),
            checksum(c["ParticipantRegistry"].address),
            currencies={cur.address.lower(): cur for cur in deployment.currencies.values()},
            keystore_dir=keystore_dir,
        )

    def currency(self, address: str) -> Currency:
        found = self.currencies.get(address.lower())
        if found is None:
            raise UnknownCurrency(address, self.chain_id)
        return found

    def symbol(self, currency: str) -> str:
        """The symbol of the currency at address ``currency``."""
        return self.currency(currency).symbol

    def amount(self, units: int, currency: str) -> str:
        """Minor units of the currency at address ``currency`` as exact major units (:func:`ledger.format.amount`)."""
        return amount(int(units), self.currency(currency).decimals)

    def money(self, units: int | None, currency: str) -> str | None:
        """:meth:`amount`, None for None."""
        return None if units is None else self.amount(units, currency)


#: Deployment records read, by path: (modification time in ns, size, the record).
_RECORDS: dict[Path, tuple[int, int, Deployment]] = {}


def _deployment_record(settings: Settings, chain_id: int) -> Deployment | None:
    """The data directory's deployment record of ``chain_id`` (None without
    one); read again only when the file changed (`scf serve` asks at every
    request)."""
    path = settings.deployments_dir / f"{chain_id}.json"
    try:
        stat = path.stat()
        cached = _RECORDS.get(path)
        if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
            return cached[2]
        record = Deployment.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DeploymentError(f"unreadable deployment record {path}: {exc}") from None
    _RECORDS[path] = (stat.st_mtime_ns, stat.st_size, record)
    return record


def find_scope(conn: Connection, settings: Settings, chain_id: int | None = None) -> Scope:
    """The indexed deployment to query: the one whose InvoiceToken matches a
    deployment record of this data directory (most recently synced first),
    else the most recently synced cursor in the database."""
    query = sa.select(CURSORS)
    if chain_id is not None:
        query = query.where(CURSORS.c.chain_id == chain_id)
    cursors = list(conn.execute(query).all())
    if not cursors:
        where = f" for chain {chain_id}" if chain_id is not None else ""
        raise DatabaseError(f"nothing is indexed{where} in the ledger database yet; run `scf index sync`")
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    cursors.sort(key=lambda c: (c.updated_at or epoch, c.id), reverse=True)
    records = {c.chain_id: _deployment_record(settings, c.chain_id) for c in cursors}
    matching = [
        c
        for c in cursors
        if (d := records[c.chain_id]) is not None
        and "InvoiceToken" in d.contracts
        and d.contracts["InvoiceToken"].address.lower() == c.invoice_contract.lower()
    ]
    cursor = (matching or cursors)[0]
    record = records[cursor.chain_id]
    currencies = {c.address.lower(): c for c in record.currencies.values()} if record else {}
    return Scope(
        cursor.chain_id,
        cursor.invoice_contract,
        cursor.registry_contract,
        cursor.block_number,
        currencies,
        settings.keystore_dir,
    )


@contextmanager
def read_db(settings: Settings) -> Iterator[tuple[Connection, Scope]]:
    """A read transaction on the ledger database, and the deployment it shows."""
    with read_connection(settings.database_url) as conn:
        yield conn, find_scope(conn, settings)


def check_block(scope: Scope, block: int | None) -> None:
    if block is None:
        return
    if scope.indexed_block is None or block > scope.indexed_block:
        upto = "nothing yet" if scope.indexed_block is None else f"up to block {scope.indexed_block}"
        raise InputError(
            f"block {block} is not indexed yet (indexed {upto}); run `scf index sync` or pick a lower block"
        )


def block_time(conn: Connection, chain_id: int, block: int) -> dt.datetime | None:
    """Time of `block` from the stored block hashes, else of the last stored
    event at or below it (None if neither has it)."""
    found = conn.execute(
        sa.select(BLOCKS.c.timestamp).where(BLOCKS.c.chain_id == chain_id, BLOCKS.c.number == block)
    ).scalar()
    if found is None:
        found = conn.execute(
            sa.select(EVENTS.c.block_time)
            .where(EVENTS.c.chain_id == chain_id, EVENTS.c.block_number <= block)
            .order_by(EVENTS.c.block_number.desc())
            .limit(1)
        ).scalar()
    return found


class Directory:
    """Participant names by address, and resolution of user input (an
    address, a registered name, case-insensitive, or a local account name) to
    an address (:func:`ledger.names.resolve`)."""

    def __init__(self, rows: Iterable[Mapping[str, Any]], keystore_dir: Path | None = None) -> None:
        self.names: dict[str, str] = {str(r["address"]): str(r["name"]) for r in rows}
        self.keystore_dir = keystore_dir

    def name(self, address: str | None) -> str | None:
        return None if address is None else self.names.get(address)

    def label(self, address: str | None) -> str:
        return label(address, self.name(address))

    def party(self, address: str | None) -> dict[str, str | None] | None:
        return party(address, self.name(address))

    def resolve(self, text: str, what: str) -> str:
        return resolve(text, self.names, what, self.keystore_dir)


def _iso(value: dt.datetime | None) -> str | None:
    return iso_time(value)


def _missing(invoice_id: int, scope: Scope, as_of_block: int | None) -> UnknownInvoice:
    """The one line of an unknown id on the read side (the chain side says the same, without the index)."""
    if as_of_block is not None:
        return UnknownInvoice(invoice_id, f" at block {as_of_block}")
    upto = "nothing yet" if scope.indexed_block is None else f"up to block {scope.indexed_block}"
    return UnknownInvoice(
        invoice_id,
        f" in the indexed ledger (indexed {upto})",
        "see `scf invoice list`, or run `scf index sync` if it is new",
    )
