"""`scf serve`: the HTTP API and dashboard over the indexed ledger.

* :mod:`.app`: the ASGI app (``create_app``);
* :mod:`.routes`: the JSON API under ``/api``; :mod:`.pages`: the dashboard;
* :mod:`.keys` and :mod:`.access`: API keys and what each key's party may see;
* :mod:`.problems`: errors as RFC 9457 problem details;
* :mod:`.relay`: gasless confirmations (the only part that signs).

Everything but :mod:`.relay` is read side: it never imports web3.
"""
