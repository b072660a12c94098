"""What the test proxies in front of a node share (``support.indexer``'s
flaky node, ``support.poa_proxy``'s ethereumjs look-alike)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any


def send_json(handler: BaseHTTPRequestHandler, reply: Any) -> None:
    """Answer an HTTP request with ``reply`` as a JSON body (status 200)."""
    data = json.dumps(reply).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
