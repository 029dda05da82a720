"""Shared concepts with one home each; every other package builds on these and nothing else.

- ``columns``: canonical column names, the event vocabulary, default event weights, column aliases,
  and the offer-name lookup.
- ``errors``: ``PromoLensError``, the base of every deliberate error, and ``ConfigError``.
- ``progress``: the progress and per-epoch callback types of long jobs.
- ``jsonio``: the one way values become JSON.
- ``arrays``: the one ``factorize``.
- ``config``: ``ConfigBase`` for frozen configuration dataclasses that validate and round-trip.
"""

__all__ = ["columns", "errors", "progress", "jsonio", "arrays", "config"]
