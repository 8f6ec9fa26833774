"""Zoom classroom attendance: the application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask

from attendance.version import __version__

__all__ = ["__version__", "create_app"]


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app: config from the environment (then ``overrides``), extensions, routes."""
    from attendance import config as config_module
    from attendance.app_setup import (
        register_blueprints,
        register_errorhandlers,
        register_extensions,
        register_security_headers,
    )
    from attendance.cli import register_cli

    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_path=str(config_module.INSTANCE_DIR),
    )
    app.config.from_mapping(config_module.load_config())
    if overrides:
        app.config.from_mapping(overrides)
    config_module.finalize(app.config)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_security_headers(app)
    register_cli(app)
    return app
