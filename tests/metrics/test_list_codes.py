"""Lists read as Arrow codes of their distinct ids (``user_lists``, the list matrix) are exactly what
factorizing every row as a Python string gave (the definitions before, kept here as references)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.metrics import ranking
from recsys.metrics.base import text_codes, top_k, user_lists


def user_lists_reference(reco: pd.DataFrame, k: int | None) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    top = top_k(reco, k)
    codes, users = pd.factorize(top[C.USER_ID].astype(str).to_numpy(object))
    return pd.Index(users, dtype=object), codes.astype(np.int64), top[C.ITEM_ID].astype(str).to_numpy(object)


def reco_matrix_reference(reco: pd.DataFrame, k: int) -> tuple[pd.Index, pd.Index, sp.csr_matrix]:
    top = top_k(reco, k)
    u_codes, users = pd.factorize(top[C.USER_ID].astype(str).to_numpy(object))
    i_codes, items = pd.factorize(top[C.ITEM_ID].astype(str).to_numpy(object))
    mat = sp.csr_matrix((np.ones(len(u_codes)), (u_codes, i_codes)), shape=(len(users), len(items)))
    mat.data = np.ones_like(mat.data)
    return pd.Index(users, dtype=object), pd.Index(items, dtype=object), mat


def lists(seed: int, dtype: str | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = np.array(["c10", "c9", "顾客", "", "a b"] + [f"u{i}" for i in range(30)], dtype=object)
    items = np.array(["o2", "o10", "满减", "x"] + [f"i{i}" for i in range(20)], dtype=object)
    n = 300
    frame = pd.DataFrame({C.USER_ID: users[rng.integers(0, len(users), n)], C.ITEM_ID: items[rng.integers(0, len(items), n)],
                          C.RANK: rng.integers(1, 10, n)})
    return frame.astype({C.USER_ID: dtype, C.ITEM_ID: dtype}) if dtype else frame


@pytest.mark.parametrize("dtype", [None, "object", "str"])
@pytest.mark.parametrize("seed", [0, 1])
def test_user_lists_and_list_matrix_equal_the_text_definition(seed: int, dtype: str | None) -> None:
    reco = lists(seed, dtype)
    for k in (1, 4, None):
        got, expected = user_lists(reco, k), user_lists_reference(reco, k)
        pd.testing.assert_index_equal(got[0], expected[0])
        assert got[1].dtype == expected[1].dtype == np.int64 and got[2].dtype == object
        np.testing.assert_array_equal(got[1], expected[1])
        np.testing.assert_array_equal(got[2], expected[2])
        assert len(got[0]) > 5
    for k in (1, 4):
        users, items, mat = ranking._reco_matrix(reco, k)
        ref_users, ref_items, ref_mat = reco_matrix_reference(reco, k)
        pd.testing.assert_index_equal(users, ref_users)
        pd.testing.assert_index_equal(items, ref_items)
        assert (mat != ref_mat).nnz == 0 and mat.shape == ref_mat.shape


def test_missing_and_numeric_ids_take_the_text_path() -> None:
    reco = lists(2)
    reco.loc[reco.index[:3], C.USER_ID] = None
    reco.loc[reco.index[5:7], C.ITEM_ID] = None
    assert text_codes(reco[C.USER_ID]) is None
    got, expected = user_lists(reco, 5), user_lists_reference(reco, 5)
    pd.testing.assert_index_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(got[2].astype(str), expected[2].astype(str))  # the missing ids compare as text
    numbers = pd.DataFrame({C.USER_ID: [10, 9, 10, 100], C.ITEM_ID: [2, 1, 3, 2], C.RANK: [1, 1, 2, 1]})
    got, expected = user_lists(numbers, 2), user_lists_reference(numbers, 2)
    assert list(got[0]) == list(expected[0]) == ["10", "9", "100"]
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(got[2], expected[2])
