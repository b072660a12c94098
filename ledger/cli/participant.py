"""`scf participant add|update|suspend|reinstate`: the registry, on chain
(operator only). `scf participant list` reads the database (``query.py``)."""

from __future__ import annotations

import datetime as dt

import click

from ledger.business_time import today as business_today
from ledger.cli.common import (
    LedgerGroup,
    as_option,
    emit,
    json_option,
    open_ledger,
    parse_date,
    settings_of,
    signer,
    sync_option,
)
from ledger.errors import InputError


@click.group(cls=LedgerGroup)
def participant() -> None:
    """Admit, list, update, suspend and reinstate network participants. Only
    admitted participants with a valid KYC may issue, confirm, finance or pay.

    Example:

    \b
        scf participant add "Kowloon Precision Parts Ltd" --address supplier --role supplier
        scf participant list
    """


def _kyc_date(text: str, today: dt.date) -> dt.date:
    until = parse_date(text, "KYC date")
    if until < today:
        raise InputError(f"KYC date {until} is in the past; give the last day the KYC is valid (today or later)")
    return until


@participant.command("add")
@click.argument("name")
@click.option("--address", "address_text", required=True, help="Address or account name.")
@click.option(
    "--role", "role_text", required=True, help="supplier, buyer, financier, auditor; several comma-separated."
)
@click.option("--kyc-until", help="Last day the KYC is valid (YYYY-MM-DD; default one year from today).")
@click.option(
    "--allow-contract",
    is_flag=True,
    help="Admit an address that is a contract (a contract wallet such as a multisig); refused otherwise.",
)
@as_option("operator")
@sync_option
@json_option
@click.pass_context
def participant_add(
    ctx: click.Context,
    name: str,
    address_text: str,
    role_text: str,
    kyc_until: str | None,
    allow_contract: bool,
    as_name: str,
) -> None:
    """Admit a participant under NAME with its roles and the last day its KYC
    is valid (operator only). An address with contract code is refused
    unless --allow-contract says it is a contract wallet (e.g. a multisig).

    Example:

    \b
        scf participant add "Harbour Trade Finance Ltd" --address financier \\
            --role financier --kyc-until 2027-12-31
        scf participant add "Lantau Treasury Safe" --role financier --allow-contract \\
            --address 0x5FbDB2315678afecb367f032d93F642f64180aa3
    """
    from ledger.lifecycle import parse_roles

    roles = parse_roles(role_text)
    settings_of(ctx)  # loads the configured business time zone, which "today" is in
    today = business_today()
    until = _kyc_date(kyc_until, today) if kyc_until else today + dt.timedelta(days=365)
    ledger = open_ledger(ctx)
    address = ledger.resolve(address_text, "new participant").address
    result = ledger.add_participant(
        signer(ctx, as_name, ledger.sender.chain_id), name, address, roles, until, allow_contract=allow_contract
    )
    emit(
        ctx,
        result,
        f"admitted {result['name']} ({address}) as {', '.join(result['roles'])}, KYC until {result['kyc_until']}",
    )


@participant.command("update")
@click.argument("who")
@click.option("--role", "role_text", help="New roles (replace the old): supplier, buyer, financier, auditor.")
@click.option("--kyc-until", help="New last day the KYC is valid (YYYY-MM-DD); renews an expired KYC.")
@click.option("--name", "new_name", help="New registered name.")
@as_option("operator")
@sync_option
@json_option
@click.pass_context
def participant_update(
    ctx: click.Context, who: str, role_text: str | None, kyc_until: str | None, new_name: str | None, as_name: str
) -> None:
    """Change WHO's roles, renew its KYC or rename it (operator only). WHO is
    a participant name, an account name or an address.

    Example:

    \b
        scf participant update "Kowloon Precision Parts Ltd" --kyc-until 2028-06-30
    """
    from ledger.lifecycle import parse_roles

    roles = parse_roles(role_text) if role_text is not None else None
    settings_of(ctx)  # loads the configured business time zone, which "today" is in
    until = None if kyc_until is None else _kyc_date(kyc_until, business_today())
    ledger = open_ledger(ctx)
    party = ledger.resolve(who)
    result = ledger.update_participant(
        signer(ctx, as_name, ledger.sender.chain_id), party.address, roles, until, new_name
    )
    changes = []
    if "roles" in result:
        changes.append(f"roles {', '.join(result['roles'])}, KYC until {result['kyc_until']}")
    if "renamed_from" in result:
        changes.append(f"renamed from {result['renamed_from']!r}")
    emit(ctx, result, f"updated {result['name'] or party.address}: {'; '.join(changes) or 'nothing changed'}")


def _suspension(ctx: click.Context, who: str, as_name: str, suspended: bool) -> None:
    ledger = open_ledger(ctx)
    party = ledger.resolve(who)
    result = ledger.set_suspended(signer(ctx, as_name, ledger.sender.chain_id), party.address, suspended)
    word = "suspended" if suspended else "reinstated"
    emit(ctx, result, f"{word} {party.name or party.address}")


@participant.command("suspend")
@click.argument("who")
@as_option("operator")
@sync_option
@json_option
@click.pass_context
def participant_suspend(ctx: click.Context, who: str, as_name: str) -> None:
    """Suspend participant WHO: it can no longer act, apart from withdrawing
    its listings, until reinstated (operator only).

    Example:

    \b
        scf participant suspend "Tsuen Wan Electronics Ltd"
    """
    _suspension(ctx, who, as_name, True)


@participant.command("reinstate")
@click.argument("who")
@as_option("operator")
@sync_option
@json_option
@click.pass_context
def participant_reinstate(ctx: click.Context, who: str, as_name: str) -> None:
    """Lift the suspension of participant WHO (operator only).

    Example:

    \b
        scf participant reinstate "Tsuen Wan Electronics Ltd"
    """
    _suspension(ctx, who, as_name, False)
