"""Errors that users can act on: each names the field or column at fault."""

from __future__ import annotations


class ShopfloorError(Exception):
    """Base class for errors that should end a command with a clear message, not a traceback."""


class DataError(ShopfloorError, ValueError):
    """Input data that cannot be used; ``field`` names the file, column or parameter at fault.

    ``reason`` is a short, fixed code (for metrics labels); the message carries the details.
    """

    def __init__(self, field: str, message: str, reason: str = "invalid") -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {message}")


class RegistryError(ShopfloorError):
    """The model registry holds nothing usable for the request (no model, no champion...)."""
