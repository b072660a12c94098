"""The dashboard: server-rendered pages (Jinja2) over the same read side and
access rules as the API. (Owned by the dashboard work; the lead's placeholder.)"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

router = APIRouter(include_in_schema=False)


def mount_static(app: FastAPI) -> None:
    """Serve the dashboard's own scripts and styles (nothing from a CDN)."""
