"""Interaction weighting, id index and feature matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.core import columns as C
from recsys.learn.config import FeatureConfig, InteractionConfig
from recsys.learn.features import ITEM_IDENTITY_SOURCE, USER_IDENTITY_SOURCE, FeatureBuilder
from recsys.learn.interactions import IdIndex, build_interactions, interaction_weights
from recsys.data.schema import ColumnKind, ColumnSpec, TableSchema


def interactions() -> pd.DataFrame:
    return pd.DataFrame({
        C.USER_ID: ["a", "a", "a", "b", "b", "c"],
        C.ITEM_ID: ["x", "x", "y", "x", "z", "y"],
        C.EVENT: ["click", "purchase", "impression", "Redeem ", None, "wishlist"],
        C.TIMESTAMP: pd.to_datetime(["2024-01-01", "2024-01-11", "2024-01-11", "2024-01-06", "2024-01-11", "2024-01-11"]),
        C.WEIGHT: [1.0, 1.0, 1.0, 2.0, np.nan, 1.0],
    })


def test_event_weights_defaults_and_overrides() -> None:
    w = interaction_weights(interactions())
    # click 2, purchase 5, impression 0, redeem 5 (case/space-insensitive),
    # missing event -> "interaction" (1), unknown event -> 1; the weight column is not used
    assert w.tolist() == [2.0, 5.0, 0.0, 5.0, 1.0, 1.0]
    custom = InteractionConfig(event_weights={"click": 1, "purchase": 3}, unknown_event_weight=0.5)
    assert interaction_weights(interactions(), custom).tolist() == [1.0, 3.0, 0.5, 0.5, 0.5, 0.5]
    # the imported weight column instead, falling back to the event weight where it is missing
    own = interaction_weights(interactions(), InteractionConfig(use_weight_column=True))
    assert own.tolist() == [1.0, 1.0, 1.0, 2.0, 1.0, 1.0]
    no_event = interactions().drop(columns=[C.EVENT, C.WEIGHT])
    assert interaction_weights(no_event).tolist() == [1.0] * 6


def test_time_decay_half_life() -> None:
    cfg = InteractionConfig(half_life_days=10.0)
    w = interaction_weights(interactions(), cfg)
    # reference = latest timestamp (2024-01-11): the first click is 10 days old -> half weight
    assert w.iloc[0] == pytest.approx(1.0)
    assert w.iloc[1] == pytest.approx(5.0)
    assert w.iloc[3] == pytest.approx(5.0 * 0.5 ** 0.5)
    with pytest.raises(ValueError, match="half_life_days"):
        interaction_weights(interactions(), InteractionConfig(half_life_days=0))


def test_duplicates_are_summed_and_zero_pairs_kept_explicit() -> None:
    im = build_interactions(interactions())
    assert im.user_index.ids.tolist() == ["a", "b", "c"]
    assert im.item_index.ids.tolist() == ["x", "y", "z"]
    dense = im.matrix.toarray()
    assert dense[0, 0] == 7.0  # click 2 + purchase 5: duplicates are summed
    assert dense[0, 1] == 0.0 and im.matrix.nnz == 5  # the impression-only pair is observed, weight 0
    assert im.positives().toarray().tolist() == [[1, 0, 0], [1, 0, 1], [0, 1, 0]]


def test_id_index_roundtrip_and_unknown() -> None:
    idx = IdIndex.from_values(pd.Series(["b", "a", "b", "c"]))
    assert idx.ids.tolist() == ["a", "b", "c"]
    assert idx.positions(["c", "zz", "a"]).tolist() == [2, -1, 0]
    ext = idx.extend(["d", "a"])
    assert ext.ids.tolist() == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="unique"):
        IdIndex(["a", "a"])
    assert idx.to_array().dtype.kind == "U"


def users_table() -> tuple[pd.DataFrame, TableSchema]:
    users = pd.DataFrame({
        C.USER_ID: ["u1", "u2", "u3", "u4", "u5"],
        "segment": ["bargain hunter", "premium", "bargain hunter", None, "vip"],
        "spend": [10.0, 20.0, 30.0, 40.0, 1000.0],
        "interests": ["shoes|bags", "bags", "", None, "toys"],
        "newsletter": ["yes", "no", "yes", "no", "yes"],
        "signup": pd.to_datetime(["2024-06-25", "2024-01-01", "2020-01-01", None, "2024-06-30"]),
        "bio": ["loves cheap shoes", "premium leather bags", "cheap shoes again", None, "zebra toys"],
        "gender": ["f", "m", "f", "m", "f"],
        "email": ["a@x.com", "b@x.com", "c@x.com", "d@x.com", "e@x.com"],
    })
    schema = TableSchema((
        ColumnSpec("segment", ColumnKind.CATEGORICAL),
        ColumnSpec("spend", ColumnKind.NUMERIC),
        ColumnSpec("interests", ColumnKind.TAGS),
        ColumnSpec("newsletter", ColumnKind.BOOLEAN),
        ColumnSpec("signup", ColumnKind.DATE),
        ColumnSpec("bio", ColumnKind.TEXT),
        ColumnSpec("gender", ColumnKind.CATEGORICAL, sensitive=True),
        ColumnSpec("email", ColumnKind.IDENTIFIER),
    ))
    return users, schema


def fitted(config: FeatureConfig | None = None, warm: list[str] | None = None) -> FeatureBuilder:
    users, schema = users_table()
    cfg = config or FeatureConfig(n_bins=2, min_count=1)
    return FeatureBuilder(schema, C.USER_ID, cfg, reference_time=pd.Timestamp("2024-07-01")).fit(
        users, IdIndex(warm or ["u1", "u2", "u3", "u4"])
    )


def test_feature_index_is_readable_with_sources_and_labels() -> None:
    fb = fitted()
    frame = fb.feature_index_.frame
    names = frame["feature"].tolist()
    assert names[:4] == [f"{USER_IDENTITY_SOURCE} (u{i})" for i in range(1, 5)]
    assert "segment = bargain hunter" in names
    assert "spend < 25" in names and "spend ≥ 25" in names
    assert "interests includes bags" in names
    assert "newsletter = yes" in names
    assert "signup: last 30 days" in names and "signup: over 2 years ago" in names
    assert "bio mentions “cheap”" in names
    seg = frame[frame["feature"] == "segment = bargain hunter"].iloc[0]
    assert (seg["source"], seg["label"], seg["kind"]) == ("segment", "bargain hunter", "categorical")
    assert set(frame.loc[frame["kind"] == "identity", "source"]) == {USER_IDENTITY_SOURCE}
    # sensitive and identifier columns never become features by default
    assert not frame["source"].isin(["gender", "email"]).any()


def test_sensitive_columns_only_with_opt_in() -> None:
    fb = fitted(FeatureConfig(include_sensitive=True, n_bins=2))
    assert "gender = f" in fb.feature_index_.names.tolist()
    assert "email" not in set(fb.feature_index_.sources)


def test_transform_rows_and_weights() -> None:
    users, _ = users_table()
    fb = fitted()
    m = fb.transform(users, ["u1", "u5", "nobody"])
    names = fb.feature_index_.names.tolist()
    row = dict(zip(names, m.toarray()[0]))
    assert row[f"{USER_IDENTITY_SOURCE} (u1)"] == 1.0
    assert row["segment = bargain hunter"] == 1.0
    assert row["interests includes shoes"] == 0.5 and row["interests includes bags"] == 0.5  # tags share 1
    assert row["spend < 25"] == 1.0
    u5 = dict(zip(names, m.toarray()[1]))
    # u5 was not in training: no identity feature, unseen segment "vip" and tag "toys" give nothing,
    # its spend (1000) goes to the open-ended top bin
    assert sum(v for n, v in u5.items() if n.startswith(USER_IDENTITY_SOURCE)) == 0
    assert "segment = vip" not in names and u5["spend ≥ 25"] == 1.0
    assert m.toarray()[2].sum() == 0  # an id without a row and without history: no features
    norm = fitted(FeatureConfig(n_bins=2, normalize=True)).transform(users, ["u1", "u2"])
    assert np.asarray(norm.sum(axis=1)).ravel() == pytest.approx([1.0, 1.0])


def test_encoders_learn_from_training_rows_only() -> None:
    fb = fitted(warm=["u1", "u2"])
    names = fb.feature_index_.names.tolist()
    assert "segment = bargain hunter" in names
    assert not any("zebra" in n for n in names)  # u5's keyword is not in the vocabulary
    spend = fb.encoders_[1]
    assert spend.state() == {"exact": [10.0, 20.0], "edges": []}  # u5's 1000 never seen


def test_identity_only_and_no_side_features() -> None:
    users, schema = users_table()
    fb = FeatureBuilder(schema, C.ITEM_ID if False else C.USER_ID, FeatureConfig(use_side_features=False)).fit(users, IdIndex(["u1", "u2"]))
    assert fb.n_features_ == 2
    fb2 = FeatureBuilder(None, C.ITEM_ID, FeatureConfig()).fit(None, IdIndex(["x"]))
    assert fb2.feature_index_.sources.tolist() == [ITEM_IDENTITY_SOURCE]
    assert fb2.transform(None, ["x", "y"]).toarray().tolist() == [[1.0], [0.0]]


def test_clear_errors() -> None:
    users, schema = users_table()
    with pytest.raises(ValueError, match="'segment'"):
        FeatureBuilder(schema, C.USER_ID).fit(users.drop(columns=["segment"]), IdIndex(["u1"]))
    dup = pd.concat([users, users.iloc[:1]])
    with pytest.raises(ValueError, match="duplicated ids"):
        FeatureBuilder(schema, C.USER_ID).fit(dup, IdIndex(["u1"]))
    bad = users.assign(spend=["1", "2", "lots", "4", "5"])
    with pytest.raises(ValueError, match="'spend' is typed numeric"):
        FeatureBuilder(schema, C.USER_ID).fit(bad, IdIndex(["u1", "u2", "u3"]))
    with pytest.raises(ValueError, match="n_bins"):
        FeatureBuilder(schema, C.USER_ID, FeatureConfig(n_bins=0)).fit(users, IdIndex(["u1"]))
    with pytest.raises(ValueError, match="not fitted"):
        FeatureBuilder(schema, C.USER_ID).transform(users, ["u1"])


def test_state_roundtrip_gives_same_matrix() -> None:
    import json

    users, _ = users_table()
    fb = fitted()
    state = json.loads(json.dumps(fb.state()))
    back = FeatureBuilder.from_state(state, fb.identity_index_.ids)
    assert back.feature_index_.names.tolist() == fb.feature_index_.names.tolist()
    assert (back.transform(users, users[C.USER_ID]) != fb.transform(users, users[C.USER_ID])).nnz == 0


def test_configs_roundtrip() -> None:
    f = FeatureConfig(include_sensitive=True, date_bins_days=(7, 30))
    assert FeatureConfig.from_dict(f.to_dict()) == f
    i = InteractionConfig(event_weights={"click": 3.0}, half_life_days=14.0)
    assert InteractionConfig.from_dict(i.to_dict()) == i
    with pytest.raises(ValueError, match="unknown FeatureConfig fields"):
        FeatureConfig.from_dict({"bogus": 1})


def test_vectorised_at_scale() -> None:
    """200k users x 7 columns builds in well under a few seconds (no per-row Python)."""
    import time

    rng = np.random.default_rng(0)
    n = 200_000
    users, schema = users_table()
    big = pd.DataFrame({
        C.USER_ID: [f"u{i}" for i in range(n)],
        "segment": rng.choice(["a", "b", "c"], n),
        "spend": rng.gamma(2.0, 50.0, n),
        "interests": rng.choice(["shoes|bags", "bags", "toys|shoes|garden"], n),
        "newsletter": rng.choice(["yes", "no"], n),
        "signup": pd.Timestamp("2024-01-01") - pd.to_timedelta(rng.integers(0, 1500, n), unit="D"),
        "bio": rng.choice(["cheap shoes", "leather bags lover", "garden tools"], n),
        "gender": rng.choice(["f", "m"], n),
        "email": "x",
    })
    t = time.perf_counter()
    fb = FeatureBuilder(schema, C.USER_ID).fit(big, IdIndex(big[C.USER_ID]))
    m = fb.transform(big, big[C.USER_ID])
    elapsed = time.perf_counter() - t
    assert m.shape == (n, n + fb.n_features_ - n)
    assert elapsed < 30  # generous: a per-row loop would take minutes


def test_matrices_are_the_same_whatever_the_id_dtype_and_the_fitted_ids_shortcut() -> None:
    # string ids as plain objects (the reference), Arrow strings (the store) and categoricals must give
    # identical matrices and indices, and transform(table, fitted ids) must equal a lookup of equal ids
    rng = np.random.default_rng(2)
    users = np.array(["é9", "b", "a10", "a2", "Z", "ü"], dtype=object)
    frame = pd.DataFrame({C.USER_ID: users[rng.integers(0, 6, 300)], C.ITEM_ID: rng.integers(0, 9, 300).astype(str),
                          C.EVENT: np.array(["click", "redeem"], dtype=object)[rng.integers(0, 2, 300)]})
    reference = build_interactions(frame)
    assert reference.user_index.ids.tolist() == sorted(set(frame[C.USER_ID]))
    for dtype in ("str", "category", pd.StringDtype("pyarrow")):
        other = build_interactions(frame.astype({C.USER_ID: dtype, C.ITEM_ID: dtype}))
        assert other.user_index.ids.tolist() == reference.user_index.ids.tolist()
        assert other.item_index.ids.tolist() == reference.item_index.ids.tolist()
        assert (other.matrix != reference.matrix).nnz == 0 and other.matrix.dtype == reference.matrix.dtype
    table, schema = users_table()
    table = table.assign(**{C.USER_ID: ["a", "b", "Z", "x", "ü"]})
    fb = FeatureBuilder(schema, C.USER_ID, FeatureConfig(n_bins=2, min_count=1)).fit(table, reference.user_index)
    fast = fb.transform(table, reference.user_index.ids)
    looked_up = fb.transform(table, list(reference.user_index.ids))
    assert (fast != looked_up).nnz == 0 and fast.shape == (6, fb.n_features_)
