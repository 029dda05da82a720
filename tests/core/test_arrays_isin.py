"""``isin`` of Arrow-backed text is pandas' ``Series.isin``, made by Arrow in one call."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.core.arrays import isin


@pytest.mark.parametrize("ids", [
    np.array(["a", "顾客", "c10", ""], dtype=object),
    ["b", None, "a"],  # a missing id matches the missing values, as in pandas
    pd.Index(["x", "a"], dtype=object),
    pd.Series(["c9"], dtype="str"),
    ["a", 1],  # mixed: pandas decides
    [],
    [np.nan],
])
@pytest.mark.parametrize("dtype", ["str", "object"])
def test_isin_equals_pandas(ids, dtype: str) -> None:
    values = pd.Series(["a", "b", None, "顾客", "c10", "c9", "", "a"], dtype=dtype)
    got = isin(values, ids)
    expected = values.isin(ids).to_numpy(np.bool_)
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, expected)


def test_isin_by_hand() -> None:
    values = pd.Series(["a", "b", None, "a"], dtype="str")
    assert isin(values, np.array(["a"], dtype=object)).tolist() == [True, False, False, True]
    assert isin(values, np.array(["a", None], dtype=object)).tolist() == values.isin(["a", None]).tolist()
