"""`scf compile` and `scf deploy`: build the contracts and put them on a chain."""

from __future__ import annotations

from typing import Any

import click

from ledger.cli.common import as_option, emit, json_option, settings_of, signer


@click.command("compile")
@click.option("--force", is_flag=True, help="Compile even if the cache is current.")
@json_option
@click.pass_context
def compile_cmd(ctx: click.Context, force: bool) -> None:
    """Compile contracts/ with the pinned solc (cached by sources, compiler
    and settings; `scf deploy` compiles when needed).

    Example:

    \b
        scf compile --force
    """
    from ledger.evm.compiler import compile_contracts

    build, ran = compile_contracts(settings_of(ctx), force=force)
    data = {
        "build_key": build.key,
        "compiler": build.compiler,
        "evm_version": build.settings["evmVersion"],
        "compiled": ran,
        "contracts": sorted(build.artifacts),
    }
    state = "compiled" if ran else "up to date (cached)"
    emit(
        ctx,
        data,
        f"{len(build.artifacts)} contracts {state}: solc {build.compiler}, "
        f"evm {data['evm_version']}, build {build.key[:12]}",
    )


@click.command("deploy")
@as_option("operator")
@click.option("--force", is_flag=True, help="Deploy a new set even if this chain has one.")
@click.option("--admin", "admin", help="Default admin of the contracts (two-step transfer; default: the deployer).")
@click.option("--operator", "operator", help="Holder of the operator role (admits, suspends, pauses).")
@click.option("--currency-manager", "currency_manager", help="Holder of the currency manager role.")
@click.option("--minter", "minter", help="Minter of the test settlement token.")
@json_option
@click.pass_context
def deploy(
    ctx: click.Context,
    as_name: str,
    force: bool,
    admin: str | None,
    operator: str | None,
    currency_manager: str | None,
    minter: str | None,
) -> None:
    """Compile if needed, deploy all contracts (version 5), and record the
    deployment. Each administrative role can go to its own account (an
    address or a local account name); by default the deployer holds them all.

    Example:

    \b
        scf deploy
        scf deploy --as operator --currency-manager treasury --minter dev9
    """
    from ledger.evm.chain import connect
    from ledger.evm.compiler import compile_contracts
    from ledger.evm.deploy import deploy as do_deploy
    from ledger.names import resolve

    settings = settings_of(ctx)
    w3 = connect(settings.rpc_url)
    account = signer(ctx, as_name, int(w3.eth.chain_id))
    roles = {
        role: resolve(text, {}, role.replace("_", " "), settings.keystore_dir, True)
        for role, text in (
            ("admin", admin),
            ("operator", operator),
            ("currency_manager", currency_manager),
            ("minter", minter),
        )
        if text is not None
    }
    build, _ = compile_contracts(settings)
    deployment = do_deploy(settings, w3, build, account, force=force, roles=roles)
    data = {
        "version": deployment.version,
        "roles": deployment.roles,
        "chain_id": deployment.chain_id,
        "contracts": {n: {"address": c.address, "block": c.block} for n, c in deployment.contracts.items()},
        "currencies": {s: c.address for s, c in deployment.currencies.items()},
    }

    def text(d: dict[str, Any]) -> None:
        click.echo(f"deployed contracts version {d['version']} on chain {d['chain_id']}:")
        for n, c in d["contracts"].items():
            click.echo(f"  {n:<28} {c['address']}  (block {c['block']})")
        for role, holder in d["roles"].items():
            click.echo(f"  {role.replace('_', ' '):<28} {holder}")

    emit(ctx, data, text)
