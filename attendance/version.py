"""The application's version (health, the OpenAPI document, the package metadata)."""

__version__ = "0.1.0"
