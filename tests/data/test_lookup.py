"""A customer's rows by index: exactly the rows (and order) a full comparison finds, built once per table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.core import columns as C
from recsys.data import lookup


def _table(ids: pd.Series) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    index = pd.RangeIndex(1000, 1000 + len(ids))  # not 0..n-1: the rows keep their own labels
    return pd.DataFrame({C.USER_ID: ids.set_axis(index), C.ITEM_ID: rng.integers(0, 50, len(ids)).astype(str)},
                        index=index)


@pytest.mark.parametrize("kind", ["object", "str", "int", "categorical"])
def test_rows_equal_the_full_comparison(kind: str) -> None:
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 300, 5_000)
    ids = {
        "object": pd.Series(raw.astype(str), dtype=object).where(rng.random(5_000) > 0.01),  # some missing
        "str": pd.Series(raw.astype(str), dtype="string"),
        "int": pd.Series(raw),
        "categorical": pd.Series(raw.astype(str)).astype("category"),
    }[kind]
    inter = _table(ids)
    for user in ["7", 7, "299", "not-a-customer"]:
        expected = inter[inter[C.USER_ID].astype(str).to_numpy() == str(user)]
        got = lookup.customer_interactions(inter, user)
        assert len(got) or user == "not-a-customer"
        pd.testing.assert_frame_equal(got, expected)


def test_the_index_is_built_once_per_table_and_never_serves_another() -> None:
    a = _table(pd.Series(["x", "y", "x"], dtype=object))
    b = _table(pd.Series(["y", "y", "x"], dtype=object))
    assert lookup.customer_rows(a) is lookup.customer_rows(a)
    assert lookup.customer_rows(a) is not lookup.customer_rows(b)
    assert lookup.customer_interactions(a, "x").index.tolist() == [1000, 1002]
    assert lookup.customer_interactions(b, "x").index.tolist() == [1002]


def test_text_columns_of_many_chunks_are_taken_as_iloc_takes_them() -> None:
    rng = np.random.default_rng(2)
    parts = [pd.DataFrame({
        C.USER_ID: pd.Series(rng.integers(0, 40, 300).astype(str)).astype("str"),
        C.ITEM_ID: pd.Series(rng.integers(0, 9, 300).astype(str)).astype("str"),
        C.TIMESTAMP: pd.to_datetime(rng.integers(1.7e9, 1.71e9, 300), unit="s"),
        C.VALUE: rng.random(300),
    }) for _ in range(3)]
    inter = pd.concat(parts, ignore_index=True)  # text columns of three Arrow chunks
    assert inter[C.USER_ID].array.__arrow_array__().num_chunks == 3
    for user in ["0", "17", "39"]:
        expected = inter[inter[C.USER_ID].to_numpy() == user]
        pd.testing.assert_frame_equal(lookup.customer_interactions(inter, user), expected)
