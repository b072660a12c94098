"""Gasless confirmation over HTTP (placeholder of the lead; the serve work fills it)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api")
