"""The exception tree: one root, families that carry the CLI's exit codes."""

import pytest

from ledger import errors


@pytest.mark.parametrize(
    ("cls", "family", "code"),
    [
        (errors.InputError, errors.InputError, 2),
        (errors.InvalidInvoiceNumber, errors.InputError, 2),
        (errors.TransactionReverted, errors.Refused, 1),
        (errors.DecisionRefused, errors.Refused, 1),
        (errors.PolicyError, errors.InputError, 2),
        (errors.UnknownInvoice, errors.InputError, 2),
        (errors.InvoiceNotFound, errors.UnknownInvoice, 2),
        (errors.InvoiceNotFound, errors.TransactionReverted, 2),
        (errors.DatabaseError, errors.EnvironmentProblem, 3),
        (errors.MissingContract, errors.DeploymentError, 3),
        (errors.RpcBusy, errors.NodeUnavailable, 3),
        (errors.CompileError, errors.EnvironmentProblem, 3),
        (errors.ConfigError, errors.EnvironmentProblem, 3),
        (errors.UnreadableKeystore, errors.AccountError, 3),
    ],
)
def test_errors_family_carries_exit_code(cls: type[errors.LedgerError], family: type, code: int) -> None:
    assert issubclass(cls, family) and issubclass(cls, errors.LedgerError)
    assert cls.exit_code == code


def test_errors_messages_built_from_attributes() -> None:
    missing = errors.MissingContract("InvoiceToken", 31337)
    assert (missing.contract, missing.chain_id) == ("InvoiceToken", 31337)
    assert str(missing) == (
        "the deployment record of chain 31337 lacks InvoiceToken; redeploy with `scf deploy --force`"
    )
    assert str(errors.PolicyError("p.toml", "bad")) == "p.toml: bad"
    assert errors.CompileError.keep_lines and not errors.InputError.keep_lines


def test_errors_old_import_paths_still_work() -> None:
    from ledger.evm.rpc import RpcBusy, RpcError, RpcTimeout
    from ledger.finance.policy import PolicyError
    from ledger.finance.service import DecisionRefused
    from ledger.invoice_numbers import InvalidInvoiceNumber

    assert (RpcBusy, RpcError, RpcTimeout) == (errors.RpcBusy, errors.RpcError, errors.RpcTimeout)
    assert (PolicyError, DecisionRefused, InvalidInvoiceNumber) == (
        errors.PolicyError,
        errors.DecisionRefused,
        errors.InvalidInvoiceNumber,
    )
