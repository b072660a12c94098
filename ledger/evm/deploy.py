"""`scf deploy`: compile if needed, deploy the registry, the linked libraries
(invoice numbers, settlement, remedies), the invoice token (linked to them) and the HKD settlement
token, wire them, and write the deployment record."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from ledger.config import Settings
from ledger.deployment import (
    CONTRACT_VERSION,
    Currency,
    DeployedContract,
    Deployment,
    artifact_hash,
    deployment_path,
    load_deployment,
    save_deployment,
    utc_now,
)
from ledger.errors import ChainError, DeploymentError, Refused
from ledger.evm.chain import ErrorDecoder, Sender
from ledger.evm.compiler import Build

#: The local stand-in for money: a 2-decimal HKD stablecoin.
SETTLEMENT_TOKENS: tuple[dict[str, Any], ...] = ({"symbol": "HKD", "name": "Hong Kong Dollar (test)", "decimals": 2},)


#: The linked libraries of each contract: library name -> its source unit, in the
#: order they are deployed (a library linked into another comes first).
LIBRARIES: dict[str, dict[str, str]] = {
    "InvoiceToken": {
        "InvoiceNumbers": "contracts/InvoiceNumbers.sol",
        "Settlement": "contracts/Settlement.sol",
        "Remedies": "contracts/Remedies.sol",
        "Intake": "contracts/Intake.sol",
    },
    "Intake": {"InvoiceNumbers": "contracts/InvoiceNumbers.sol"},
}


def link_placeholder(unit: str, name: str) -> str:
    """solc's placeholder for the address of library ``unit:name`` in unlinked bytecode."""
    return "__$" + keccak(text=f"{unit}:{name}").hex().removeprefix("0x")[:34] + "$__"


def link(bytecode: str, libraries: dict[str, str], units: dict[str, str]) -> str:
    """``bytecode`` with each library's placeholder replaced by its address
    (``libraries``: name -> address; ``units``: name -> source unit).
    DeploymentError if a placeholder stays unlinked."""
    for name, address in libraries.items():
        bytecode = bytecode.replace(link_placeholder(units[name], name), address.lower().removeprefix("0x"))
    if "__$" in bytecode:
        raise DeploymentError("the bytecode still has an unlinked library placeholder; deploy its library first")
    return bytecode


def _deploy_one(
    sender: Sender,
    build: Build,
    name: str,
    signer: LocalAccount,
    *args: Any,
    libraries: dict[str, str] | None = None,
) -> DeployedContract:
    """Deploy ``name`` with constructor ``args``, linked to ``libraries`` (name -> address).
    The record's artifact hash is of the linked creation code (what was sent)."""
    artifact = build.artifact(name)
    bytecode = link(artifact.bytecode, libraries or {}, LIBRARIES.get(name, {}))
    factory = sender.w3.eth.contract(abi=artifact.abi, bytecode=bytecode)
    receipt = sender.transact(factory.constructor(*args), signer)
    address = receipt.get("contractAddress")
    if not address:
        raise ChainError(f"deploying {name} produced no contract address")
    return DeployedContract(
        address=str(address),
        block=int(receipt["blockNumber"]),
        tx_hash=Web3.to_hex(receipt["transactionHash"]),
        artifact_hash=artifact_hash(bytecode),
        abi=artifact.abi,
    )


def _refuse_redeploy(settings: Settings, w3: Web3, chain_id: int) -> None:
    """Refused (exit 1) if this chain already has the contracts of this data directory's record."""
    path = deployment_path(settings, chain_id)
    if path.exists():
        existing = load_deployment(settings, chain_id)
        code = w3.eth.get_code(Web3.to_checksum_address(existing.contracts["InvoiceToken"].address))
        if code:
            raise Refused(
                f"contracts are already deployed on chain {chain_id} (record {path}); use --force to deploy a new set"
            )


def _deploy_settlement_tokens(
    sender: Sender,
    build: Build,
    signer: LocalAccount,
    holders: dict[str, str],
    token_contract: Any,
    contracts: dict[str, DeployedContract],
) -> dict[str, Currency]:
    """Deploy the settlement tokens, accept each as a currency of the invoice
    token and add each to ``contracts``: the currencies by symbol."""
    currencies: dict[str, Currency] = {}
    for spec in SETTLEMENT_TOKENS:
        token = _deploy_one(
            sender,
            build,
            "SettlementToken",
            signer,
            spec["name"],
            spec["symbol"],
            spec["decimals"],
            holders["admin"],
            holders["minter"],
        )
        contracts[f"SettlementToken:{spec['symbol']}"] = token
        sender.transact(token_contract.functions.setCurrencyAccepted(token.address, True), signer)
        currencies[str(spec["symbol"])] = Currency(
            str(spec["symbol"]), token.address, int(spec["decimals"]), token.block
        )
    return currencies


def deploy(
    settings: Settings,
    w3: Web3,
    build: Build,
    signer: LocalAccount,
    force: bool = False,
    roles: dict[str, str] | None = None,
) -> Deployment:
    """Deploy version 5 of the contracts (the libraries first: invoice
    numbers, settlement, remedies and intake, linked into the invoice token). ``roles`` may give the default admin
    (``admin``), the operator (``operator``: admits, suspends, pauses), the
    currency manager (``currency_manager``) and the test token's minter
    (``minter``) to other addresses; each defaults to the deployer. The
    deployer must then hold the currency manager role for the wiring below,
    so a different currency manager is granted after it."""
    chain_id = int(w3.eth.chain_id)
    if not force:
        _refuse_redeploy(settings, w3, chain_id)
    sender = Sender(w3, ErrorDecoder(build.all_abis()), settings.tx_timeout, settings.keystore_dir)
    holders: dict[str, str] = {k: str(signer.address) for k in ("admin", "operator", "currency_manager", "minter")}
    holders.update(roles or {})
    delay = int(settings.admin_delay)
    registry = _deploy_one(sender, build, "ParticipantRegistry", signer, holders["admin"], holders["operator"], delay)
    libraries: dict[str, DeployedContract] = {}
    for name in LIBRARIES["InvoiceToken"]:
        linked = {lib: libraries[lib].address for lib in LIBRARIES.get(name, {})}
        libraries[name] = _deploy_one(sender, build, name, signer, libraries=linked)
    invoices = _deploy_one(
        sender,
        build,
        "InvoiceToken",
        signer,
        registry.address,
        holders["admin"],
        holders["operator"],
        signer.address,
        delay,
        int(settings.max_tenor_days) * 86400,
        int(settings.grace_period_days) * 86400,
        libraries={name: library.address for name, library in libraries.items()},
    )
    contracts = {"ParticipantRegistry": registry, **libraries, "InvoiceToken": invoices}
    token_contract = w3.eth.contract(address=Web3.to_checksum_address(invoices.address), abi=invoices.abi)
    currencies = _deploy_settlement_tokens(sender, build, signer, holders, token_contract, contracts)
    manager_role = Web3.keccak(text="CURRENCY_MANAGER_ROLE")
    if holders["currency_manager"] != signer.address:
        if holders["admin"] != signer.address:
            raise DeploymentError("a currency manager other than the deployer needs the deployer as admin")
        sender.transact(token_contract.functions.grantRole(manager_role, holders["currency_manager"]), signer)
        sender.transact(token_contract.functions.renounceRole(manager_role, signer.address), signer)
    deployment = Deployment(
        chain_id=chain_id,
        deployed_at=utc_now(),
        deployer=signer.address,
        build_key=build.key,
        compiler=build.compiler,
        evm_version=str(build.settings.get("evmVersion")),
        contracts=contracts,
        currencies=currencies,
        version=CONTRACT_VERSION,
        roles=holders,
    )
    save_deployment(settings, deployment)
    return deployment
