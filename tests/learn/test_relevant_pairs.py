"""``relevant_pairs`` groups integer codes of the ids; it must give exactly what grouping the text gave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.core import columns as C
from recsys.learn.config import InteractionConfig
from recsys.learn.interactions import interaction_weights, relevant_pairs


def relevant_pairs_reference(interactions: pd.DataFrame, config: InteractionConfig | None = None) -> pd.DataFrame:
    """The definition before: a sorted groupby over the two id columns as Python strings."""
    w = interaction_weights(interactions, config).to_numpy()
    pairs = pd.DataFrame({
        C.USER_ID: interactions[C.USER_ID].astype(str).to_numpy(object),
        C.ITEM_ID: interactions[C.ITEM_ID].astype(str).to_numpy(object),
        C.WEIGHT: w,
    })
    total = pairs.groupby([C.USER_ID, C.ITEM_ID], sort=True, observed=True)[C.WEIGHT].sum()
    return total[total > 0].reset_index()[[C.USER_ID, C.ITEM_ID]]


def test_by_hand() -> None:
    frame = pd.DataFrame({C.USER_ID: ["b", "a", "a", "b", "c"], C.ITEM_ID: ["x", "y", "x", "x", "z"],
                          C.EVENT: ["purchase", "view", "impression", "redeem", "impression"]})
    # impressions weigh 0: (a, x) and (c, z) are not positives; rows come sorted by user, then offer
    assert relevant_pairs(frame).values.tolist() == [["a", "y"], ["b", "x"]]


@pytest.mark.parametrize("seed", [0, 1])
def test_equals_the_text_groupby(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 5_000
    # ids whose text order differs from first appearance, numbers-as-text, non-ASCII, and a missing id
    users = np.array(["u10", "u9", "U1", "ü", "顾客2", "顾客10", "a b", ""] + [f"c{i}" for i in range(40)], dtype=object)
    items = np.array(["o2", "o10", "O1", "满减", "x"], dtype=object)
    frame = pd.DataFrame({
        C.USER_ID: users[rng.integers(0, len(users), n)],
        C.ITEM_ID: items[rng.integers(0, len(items), n)],
        C.EVENT: rng.choice(["impression", "view", "click", "redeem", "purchase", "unsubscribe"], n),
        C.WEIGHT: rng.choice([1.0, -1.0, 0.1, 0.2, -0.3, 0.0], n),
    })
    frame.loc[rng.integers(0, n, 5), C.USER_ID] = None
    for config in (None, InteractionConfig(use_weight_column=True)):
        expected = relevant_pairs_reference(frame, config)
        got = relevant_pairs(frame, config)
        assert 0 < len(got) < frame[[C.USER_ID, C.ITEM_ID]].drop_duplicates().shape[0]
        pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_integer_ids_and_no_rows() -> None:
    frame = pd.DataFrame({C.USER_ID: [10, 9, 10, 100], C.ITEM_ID: [2, 1, 2, 3], C.EVENT: ["purchase"] * 4})
    pd.testing.assert_frame_equal(relevant_pairs(frame), relevant_pairs_reference(frame), check_exact=True)
    assert relevant_pairs(frame).values.tolist() == [["10", "2"], ["100", "3"], ["9", "1"]]  # text order
    empty = frame.iloc[:0]
    pd.testing.assert_frame_equal(relevant_pairs(empty), relevant_pairs_reference(empty), check_exact=True)
