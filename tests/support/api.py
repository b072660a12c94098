"""Helpers of the HTTP API tests (tests/api/)."""

from __future__ import annotations

from typing import Any


def ids(response: Any) -> list[int]:
    """The invoice ids of a 200 page of ``GET /api/invoices``."""
    assert response.status_code == 200, response.text
    return [item["invoice_id"] for item in response.json()["items"]]


def assert_problem(response: Any, status: int, *needles: str) -> dict[str, Any]:
    """A problem document of ``status``: one-line detail containing ``needles``, no traceback."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert body["status"] == status and body["instance"] == response.request.url.path
    assert "\n" not in body["detail"] and "Traceback" not in response.text
    for needle in needles:
        assert needle in body["detail"], body["detail"]
    return dict(body)
