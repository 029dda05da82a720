"""One way to turn PromoLens values into JSON: numpy and pandas scalars, tuples, sets, paths, times.

>>> import numpy as np
>>> jsonable({"k": (np.int64(3), float("nan")), 2: np.float32(0.5)})
{'k': [3, None], '2': 0.5}
>>> dumps({"b": 1, "a": [1, 2]})
'{"a": [1, 2], "b": 1}'
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd


def jsonable(value: Any, *, strict: bool = False) -> Any:
    """``value`` as plain JSON types.

    Mappings get text keys; tuples, lists, sets and arrays become lists; numpy scalars become Python
    numbers; NaN and infinities become ``None`` (JSON has neither); timestamps and dates become ISO
    text; paths become text. Anything else is returned as ``str(value)``, or raises ``TypeError``
    when ``strict`` (for files that must round-trip exactly, such as model sidecars).
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, strict=strict) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        return [jsonable(v, strict=strict) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    if isinstance(value, (pd.Timestamp, _dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if strict:
        raise TypeError(f"cannot store {type(value).__name__} as JSON")
    return str(value)


def dumps(value: Any, *, indent: int | None = None, sort_keys: bool = True, strict: bool = False) -> str:
    """JSON text of :func:`jsonable` ``(value)``; keys sorted so equal values give equal text."""
    return json.dumps(jsonable(value, strict=strict), indent=indent, sort_keys=sort_keys, allow_nan=False)


__all__ = ["jsonable", "dumps"]
