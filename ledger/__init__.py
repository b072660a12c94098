"""scf-ledger: a supply-chain financing ledger on a private EVM chain."""

__version__ = "0.1.0"
