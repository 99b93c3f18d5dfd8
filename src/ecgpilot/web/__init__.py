"""The web app where the doctor reads, corrects and signs: ``create_app(settings)``."""

from __future__ import annotations

from ecgpilot.web.app import Settings, create_app

__all__ = ["Settings", "create_app"]
