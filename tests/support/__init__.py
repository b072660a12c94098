"""Code shared by the test modules (imported as ``support.*``: pytest puts
``tests/`` on sys.path because ``tests/conftest.py`` lives there).

- ``lifecycle``: ``Lifecycle``, the one lifecycle driver (issue, confirm, offer,
  finance, repay, transfer, travel), and ``travel``;
- ``contracts``: ``Net`` (raw contract calls) and ``reverts``, for ``tests/contracts/``;
- ``finance``: ``Book`` and the example policy, for ``tests/finance/``;
- ``indexer``: ``Actions``, snapshots, the refusing RPC proxy, for ``tests/indexer/`` and ``tests/db/``;
- ``scenario``: the small ledger indexed by the read-side tests;
- ``cli``: the `scf` entry point and issuing through the CLI, for ``tests/cli/``.
"""
