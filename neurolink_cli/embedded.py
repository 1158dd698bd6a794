"""The embedded default store (CONTRACT §6) — placeholder until the embedded server lands.

Until then an unconfigured neurolink uses ``redis://localhost:6379/0``.
"""

from __future__ import annotations

from .config import Settings


def embedded_url(settings: Settings) -> str:
    return "redis://localhost:6379/0"


def ensure_embedded(settings: Settings) -> None:
    return None
