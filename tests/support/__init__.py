"""Code shared by the test modules (imported as ``support.*``: pytest puts
``tests/`` on sys.path, as for ``ledger_scenario``)."""
