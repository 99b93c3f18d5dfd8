"""The web app where the doctor reads, corrects and signs: ``create_app(settings)``."""

from __future__ import annotations

from ecgpilot.web.app import create_app
from ecgpilot.web.settings import Settings

__all__ = ["Settings", "create_app"]
