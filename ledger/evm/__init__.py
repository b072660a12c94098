"""Everything that talks to an EVM node: the JSON-RPC client, ABI decoders,
web3 sending and revert decoding, the local node, accounts, the compiler,
deployment and contract bindings. The read side (queries, reports, decisions
from the database, the API) never imports this package."""
