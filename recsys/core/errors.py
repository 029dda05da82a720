"""One base class for every error PromoLens raises on purpose.

Catch :class:`PromoLensError` to catch any refusal with a message meant for a person (bad file,
unknown run, busy workspace, impossible audience); anything else is a bug. Each concrete error also
keeps the built-in class it always had (``ValueError``, ``RuntimeError``, ``KeyError``), so callers
that caught those keep working.
"""

from __future__ import annotations


class PromoLensError(Exception):
    """Base of every deliberate PromoLens error: the message says what is wrong and how to fix it."""


class ConfigError(PromoLensError, ValueError):
    """A configuration with an unknown field or a value out of range."""


__all__ = ["PromoLensError", "ConfigError"]
