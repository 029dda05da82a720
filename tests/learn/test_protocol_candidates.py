"""Candidates of a temporal split are the offers live in the test period when offers have dates."""

from __future__ import annotations

import pandas as pd

from recsys.core import columns as C
from recsys.learn.config import InteractionConfig
from recsys.learn.protocol import ALL_ITEMS, LIVE_ITEMS, evaluation_split
from recsys.learn.split import SplitConfig

ROWS = pd.DataFrame({
    C.USER_ID: ["u1", "u2", "u3", "u1", "u2", "u3", "u1", "u2"],
    C.ITEM_ID: ["old", "old", "a", "a", "b", "b", "new", "a"],
    C.EVENT: "purchase",
    C.TIMESTAMP: pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05",
                                 "2024-01-06", "2024-02-02", "2024-02-03"]),
})
ITEMS = pd.DataFrame({C.ITEM_ID: ["old", "a", "b", "new", "later"],
                      "start_date": ["2023-12-01", None, "2024-01-01", "2024-02-01", "2024-06-01"],
                      "end_date": ["2024-01-10", None, "2024-03-01", "2024-03-01", "2024-07-01"]})
CONFIG = SplitConfig(kind="temporal", cutoff="2024-02-01")


def test_temporal_candidates_are_the_offers_live_in_the_test_period() -> None:
    split = evaluation_split(ROWS, CONFIG, InteractionConfig(), items=ITEMS)
    assert split.candidate_kind == LIVE_ITEMS
    # "old" expired before the test period, "later" starts after it; "a" has no dates (always live)
    assert sorted(split.candidates) == ["a", "b", "new"]


def test_without_offer_dates_every_offer_competes_as_before() -> None:
    split = evaluation_split(ROWS, CONFIG, InteractionConfig(), items=ITEMS.drop(columns=["start_date", "end_date"]))
    assert split.candidates is None and split.candidate_kind == ALL_ITEMS
    assert evaluation_split(ROWS, CONFIG, InteractionConfig()).candidates is None
