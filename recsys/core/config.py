"""One base for the frozen configuration dataclasses: validated, and round-trips through JSON.

Subclasses are ``@dataclass(frozen=True)`` and override :meth:`ConfigBase.validate` to raise
:class:`~recsys.core.errors.ConfigError` (a ``ValueError``) naming the field and the allowed values.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Demo(ConfigBase):
...     k: int = 10
>>> Demo.from_dict({"k": 5}).to_dict()
{'k': 5}
>>> Demo.from_dict({"kk": 5})
Traceback (most recent call last):
...
recsys.core.errors.ConfigError: unknown Demo fields: ['kk']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any, TypeVar

from recsys.core.errors import ConfigError

T = TypeVar("T", bound="ConfigBase")


class ConfigBase:
    """Mixin of the configuration dataclasses: ``validate``, ``to_dict`` and a strict ``from_dict``."""

    def validate(self) -> None:
        """Raise :class:`ConfigError` when a field is out of range (nothing to check by default)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready (tuples become lists when written)."""
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def known_fields(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` as a dict, refusing any key that is not a field of ``cls``."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - names
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
        return dict(data)

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
        """The config written by :meth:`to_dict` (unknown fields are an error, not ignored)."""
        return cls(**cls.known_fields(data))  # type: ignore[call-arg]


__all__ = ["ConfigBase"]
