"""`scf deploy`: compile if needed, deploy the registry, the invoice token and
the HKD settlement token, wire them, and write the deployment record."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.chain import ErrorDecoder, Sender
from ledger.compiler import Build
from ledger.config import Settings
from ledger.contracts import (
    Currency,
    DeployedContract,
    Deployment,
    artifact_hash,
    deployment_path,
    load_deployment,
    save_deployment,
    utc_now,
)
from ledger.exceptions import ChainError, DeploymentError

#: The local stand-in for money: a 2-decimal HKD stablecoin.
SETTLEMENT_TOKENS: tuple[dict[str, Any], ...] = (
    {"symbol": "HKD", "name": "Hong Kong Dollar (test)", "decimals": 2},
)


def _deploy_one(sender: Sender, build: Build, name: str, signer: LocalAccount, *args: Any) -> DeployedContract:
    artifact = build.artifact(name)
    factory = sender.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = sender.transact(factory.constructor(*args), signer)
    address = receipt.get("contractAddress")
    if not address:
        raise ChainError(f"deploying {name} produced no contract address")
    return DeployedContract(
        address=str(address),
        block=int(receipt["blockNumber"]),
        tx_hash=Web3.to_hex(receipt["transactionHash"]),
        artifact_hash=artifact_hash(artifact.bytecode),
        abi=artifact.abi,
    )


def deploy(
    settings: Settings, w3: Web3, build: Build, signer: LocalAccount, force: bool = False
) -> Deployment:
    chain_id = int(w3.eth.chain_id)
    path = deployment_path(settings, chain_id)
    if path.exists() and not force:
        existing = load_deployment(settings, chain_id)
        code = w3.eth.get_code(Web3.to_checksum_address(existing.contracts["InvoiceToken"].address))
        if code:
            raise DeploymentError(
                f"contracts are already deployed on chain {chain_id} (record {path}); "
                "use --force to deploy a new set"
            )
    sender = Sender(w3, ErrorDecoder(build.all_abis()), settings.tx_timeout)
    registry = _deploy_one(sender, build, "ParticipantRegistry", signer, signer.address)
    invoices = _deploy_one(sender, build, "InvoiceToken", signer, registry.address, signer.address)
    currencies: dict[str, Currency] = {}
    contracts = {"ParticipantRegistry": registry, "InvoiceToken": invoices}
    token_contract = w3.eth.contract(address=Web3.to_checksum_address(invoices.address), abi=invoices.abi)
    for spec in SETTLEMENT_TOKENS:
        token = _deploy_one(
            sender, build, "SettlementToken", signer, spec["name"], spec["symbol"], spec["decimals"], signer.address
        )
        contracts[f"SettlementToken:{spec['symbol']}"] = token
        sender.transact(token_contract.functions.setCurrencyAccepted(token.address, True), signer)
        currencies[str(spec["symbol"])] = Currency(
            str(spec["symbol"]), token.address, int(spec["decimals"]), token.block
        )
    deployment = Deployment(
        chain_id=chain_id,
        deployed_at=utc_now(),
        deployer=signer.address,
        build_key=build.key,
        compiler=build.compiler,
        evm_version=str(build.settings.get("evmVersion")),
        contracts=contracts,
        currencies=currencies,
    )
    save_deployment(settings, deployment)
    return deployment
