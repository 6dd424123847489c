"""The ``flask portal`` command group; each domain adds its commands to it."""

from __future__ import annotations

from flask.cli import AppGroup

portal_cli = AppGroup("portal", help="Data management for the portal.")
