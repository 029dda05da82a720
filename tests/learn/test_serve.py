"""The best validated baseline on disk (npz + JSON, no pickle) answers exactly as before, with its reasons."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recsys.core import columns as C
from recsys.learn.als import ALSRecommender
from recsys.learn.baselines import PopularityRecommender, RecentPopularityRecommender
from recsys.learn.history import EASERecommender, ItemKNNRecommender
from recsys.learn.serve import BaselineFileError, explain_list, load_baseline, refit_like, save_baseline
from tests.learn.test_strong_baselines import BASKETS


@pytest.mark.parametrize("model", [
    EASERecommender(l2=3.0, fallback_days=7), ItemKNNRecommender(k=2), ALSRecommender(factors=4, iterations=3, seed=0),
    RecentPopularityRecommender(window_days=7), PopularityRecommender(),
], ids=lambda m: type(m).__name__)
def test_saved_baseline_recommends_exactly_as_before(model, tmp_path) -> None:  # noqa: ANN001
    model.fit(BASKETS)
    path = save_baseline(model, tmp_path / "m.npz")
    again = load_baseline(path)
    users = ["u1", "u4", "stranger"]
    pd.testing.assert_frame_equal(again.recommend(users, k=3, unknown="cold"), model.recommend(users, k=3, unknown="cold"))
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["kind"] and "sha256" in meta
    with np.load(path, allow_pickle=False) as z:  # nothing pickled
        assert all(z[name].dtype != object for name in z.files)
    refit = refit_like(model, BASKETS)
    pd.testing.assert_frame_equal(refit.recommend(users, k=3, unknown="cold"), model.recommend(users, k=3, unknown="cold"))


def test_changed_file_is_refused(tmp_path) -> None:  # noqa: ANN001
    path = save_baseline(EASERecommender(l2=1.0).fit(BASKETS), tmp_path / "m.npz")
    np.savez(path, nothing=np.zeros(1))
    with pytest.raises(BaselineFileError, match="changed"):
        load_baseline(path)
    with pytest.raises(BaselineFileError, match="no saved baseline"):
        load_baseline(tmp_path / "absent.npz")


def test_reasons_name_history_offers_with_exact_shares_or_popularity() -> None:
    model = EASERecommender(l2=1.0, fallback_days=7).fit(BASKETS)
    reco = model.recommend(["u1"], k=1)
    reason = explain_list(model, "u1", reco).iloc[0]
    assert reason.startswith("because they took ") and "% of the score" in reason
    cold = model.recommend(["stranger"], k=1, unknown="cold")
    assert "best-seller" in explain_list(model, "stranger", cold).iloc[0]
    assert reco[C.ITEM_ID].iloc[0] == "c"


def test_a_list_whose_offers_no_history_offer_lifts_gets_a_reason() -> None:
    """u1's history only holds back offer d: no positive part at all (this raised a TypeError on the page)."""
    model = EASERecommender(l2=1.0, fallback_days=7).fit(BASKETS)
    assert (model.attributions("u1", ["d"])["contribution"] <= 0).all()
    reco = pd.DataFrame({C.ITEM_ID: pd.array(["d"], dtype="str")}, index=[7])
    reasons = explain_list(model, "u1", reco)
    assert reasons.index.tolist() == [7] and reasons.iloc[0] == "no history offer points to it"


def test_reasons_name_the_history_offers_when_names_are_given() -> None:
    """A marketer reads offer names, not codes: the served list's reasons use them where the caller has them."""
    model = EASERecommender(l2=1.0, fallback_days=7).fit(BASKETS)
    reco = model.recommend(["u1"], k=1)
    by_id = explain_list(model, "u1", reco).iloc[0]
    named = explain_list(model, "u1", reco, names=lambda ids: np.array([f"Offer {i.upper()}" for i in ids], dtype=object)).iloc[0]
    took = [part.split("took ", 1)[1].split(" (", 1)[0] for part in by_id.split("; ")]
    assert took and all(f"took Offer {t.upper()} (" in named and f"took {t} (" not in named for t in took)
    for t in took:  # the shares are the same: only the names changed
        named = named.replace(f"took Offer {t.upper()} (", f"took {t} (")
    assert named == by_id
