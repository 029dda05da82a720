"""Metrics: hand-computed examples, a slow reference loop, and lightfm.evaluation where both apply."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.metrics.base import ItemFeatures
from recsys.metrics.ranking import (
    AUC,
    MAP,
    NDCG,
    AvgRecPopularity,
    CatalogCoverage,
    HitRate,
    IntraListDiversity,
    Novelty,
    Personalization,
    Precision,
    Recall,
    calc_metrics,
    calc_metrics_per_user,
    default_metrics,
)


def reco_frame(lists: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(u, i, r + 1) for u, items in lists.items() for r, i in enumerate(items)]
    return pd.DataFrame(rows, columns=[C.USER_ID, C.ITEM_ID, C.RANK])


def pairs(d: dict[str, list[str]]) -> pd.DataFrame:
    return pd.DataFrame([(u, i) for u, items in d.items() for i in items], columns=[C.USER_ID, C.ITEM_ID])


# a: hits at ranks 1 and 3 of 3, |T| = 2; b: hit at rank 2, |T| = 3 (one test item never listed);
# c: no hit, |T| = 1; d has recommendations but no test items (excluded); e has test items, no list.
RECO = reco_frame({"a": ["x", "y", "z"], "b": ["x", "w", "y"], "c": ["y", "x", "z"], "d": ["x", "y", "z"]})
TEST = pairs({"a": ["x", "z"], "b": ["w", "q", "v"], "c": ["v"], "e": ["x"]})


def test_precision_recall_hitrate_by_hand() -> None:
    p = Precision(3).calc_per_user(RECO, TEST)
    assert p.to_dict() == pytest.approx({"a": 2 / 3, "b": 1 / 3, "c": 0.0, "e": 0.0})
    assert "d" not in p.index  # users with no test items are excluded, not counted as 0
    assert Recall(3).calc_per_user(RECO, TEST).to_dict() == pytest.approx({"a": 1.0, "b": 1 / 3, "c": 0.0, "e": 0.0})
    assert HitRate(3).calc(RECO, TEST) == pytest.approx(2 / 4)
    assert Precision(1).calc(RECO, TEST) == pytest.approx(1 / 4)  # only rank 1 counts


def test_ndcg_by_hand() -> None:
    per = NDCG(3).calc_per_user(RECO, TEST)
    d = [1 / math.log2(r + 1) for r in (1, 2, 3)]
    assert per["a"] == pytest.approx((d[0] + d[2]) / (d[0] + d[1]))
    assert per["b"] == pytest.approx(d[1] / (d[0] + d[1] + d[2]))
    assert per["c"] == 0.0 and per["e"] == 0.0


def test_map_by_hand() -> None:
    per = MAP(3).calc_per_user(RECO, TEST)
    assert per["a"] == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert per["b"] == pytest.approx((1 / 2) / 3)
    assert MAP(1).calc_per_user(RECO, TEST)["b"] == 0.0


def test_auc_by_hand() -> None:
    per = AUC().calc_per_user(RECO, TEST)
    # a: positives x (0 negatives above), z (1 negative above, of 1)
    assert per["a"] == pytest.approx((1 + 0) / 2)
    # b: w has 1 negative above of 2; q and v are not listed (count 0); /3 test items
    assert per["b"] == pytest.approx((1 - 1 / 2) / 3)
    assert per["c"] == 0.0
    assert "e" not in per.index  # no listed negative: undefined, excluded


def test_beyond_accuracy_by_hand() -> None:
    reco = reco_frame({"a": ["x", "y"], "b": ["x", "z"]})
    train = pairs({"u1": ["x", "y"], "u2": ["x"], "u3": ["x"], "u4": ["z"]})
    assert CatalogCoverage(2).calc(reco, catalog=["x", "y", "z", "w"]) == pytest.approx(3 / 4)
    nov = Novelty(2).calc_per_user(reco, train=train)
    info = {i: -math.log2((n + 1) / 5) for i, n in {"x": 3, "y": 1, "z": 1}.items()}
    assert nov["a"] == pytest.approx((info["x"] + info["y"]) / 2)
    arp = AvgRecPopularity(2).calc_per_user(reco, train=train)
    assert arp.to_dict() == pytest.approx({"a": 2.0, "b": 2.0})
    feats = ItemFeatures(np.array(["x", "y", "z"]), sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])))
    ild = IntraListDiversity(2).calc_per_user(reco, item_features=feats)
    assert ild["a"] == pytest.approx(1 - 1 / math.sqrt(2))
    assert ild["b"] == pytest.approx(1.0)
    pers = Personalization(2).calc_per_user(reco)
    assert pers.to_dict() == pytest.approx({"a": 0.5, "b": 0.5})  # cos = 1/2 between the lists


def test_coverage_has_no_per_user_value_and_errors_name_inputs() -> None:
    with pytest.raises(ValueError, match="catalogue-level"):
        CatalogCoverage(2).calc_per_user(RECO)
    with pytest.raises(ValueError, match="needs `catalog`"):
        CatalogCoverage(2).calc(RECO)
    with pytest.raises(ValueError, match="needs `test`"):
        Precision(2).calc(RECO)
    with pytest.raises(ValueError, match="rank"):
        Precision(2).calc(RECO.drop(columns=[C.RANK]), TEST)
    with pytest.raises(ValueError, match="positive integer"):
        Precision(0).calc(RECO, TEST)
    with pytest.raises(ValueError, match="no user"):
        Precision(2).calc(RECO, pairs({"zz": ["x"]}).iloc[:0])
    with pytest.raises(ValueError, match="same item twice"):
        Precision(2).calc(pd.concat([RECO, RECO]), TEST)


# ---------------------------------------------------------------------------------------------
# slow reference implementations on random data
# ---------------------------------------------------------------------------------------------


def random_case(seed: int, n_users: int = 40, n_items: int = 25, k: int = 7) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    lists, tests, train = {}, {}, {}
    items = [f"i{j}" for j in range(n_items)]
    for u in range(n_users):
        lists[f"u{u}"] = list(rng.choice(items, size=rng.integers(1, n_items), replace=False))
        if rng.random() < 0.8:
            tests[f"u{u}"] = list(rng.choice(items, size=rng.integers(1, 6), replace=False))
        train[f"u{u}"] = list(rng.choice(items, size=rng.integers(1, 5), replace=False))
    return reco_frame(lists), pairs(tests), pairs(train)


def slow_reference(reco: pd.DataFrame, test: pd.DataFrame, train: pd.DataFrame, k: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    lists = {u: list(g.sort_values(C.RANK)[C.ITEM_ID]) for u, g in reco.groupby(C.USER_ID)}
    rel = {u: set(g[C.ITEM_ID]) for u, g in test.groupby(C.USER_ID)}
    pop = train.drop_duplicates().groupby(C.ITEM_ID)[C.USER_ID].nunique().to_dict()
    n_train_users = train[C.USER_ID].nunique()
    for u, t in rel.items():
        lst = lists.get(u, [])
        top = lst[:k]
        hits = [1 if i in t else 0 for i in top]
        dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(t))))
        ap, found = 0.0, 0
        for r, h in enumerate(hits):
            if h:
                found += 1
                ap += found / (r + 1)
        negatives = [i for i in lst if i not in t]
        row = {
            "precision": sum(hits) / k, "recall": sum(hits) / len(t), "ndcg": dcg / idcg,
            "map": ap / min(k, len(t)), "hit_rate": float(sum(hits) > 0),
        }
        if negatives:
            total = 0.0
            for i in t:
                if i in lst:
                    above = sum(1 for j in lst[: lst.index(i)] if j not in t)
                    total += 1 - above / len(negatives)
            row["auc"] = total / len(t)
        out[u] = row
    for u, lst in lists.items():
        top = lst[:k]
        row = out.setdefault(u, {})
        row["novelty"] = float(np.mean([-math.log2((pop.get(i, 0) + 1) / (n_train_users + 1)) for i in top]))
        row["arp"] = float(np.mean([pop.get(i, 0) for i in top]))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_slow_reference(seed: int) -> None:
    k = 7
    reco, test, train = random_case(seed, k=k)
    ref = slow_reference(reco, test, train, k)
    metrics = {"precision": Precision(k), "recall": Recall(k), "ndcg": NDCG(k), "map": MAP(k),
               "hit_rate": HitRate(k), "auc": AUC(), "novelty": Novelty(k), "arp": AvgRecPopularity(k)}
    for key, metric in metrics.items():
        per = metric.calc_per_user(reco, test, train=train)
        expected = {u: r[key] for u, r in ref.items() if key in r}
        assert set(per.index) == set(expected), key
        for u, v in expected.items():
            assert per[u] == pytest.approx(v), (key, u)
        assert metric.calc(reco, test, train=train) == pytest.approx(np.mean(list(expected.values())))


def test_personalization_and_diversity_match_pairwise_loops() -> None:
    reco, _, _ = random_case(5, n_users=12, n_items=10)
    k = 4
    top = {u: list(g.sort_values(C.RANK)[C.ITEM_ID])[:k] for u, g in reco.groupby(C.USER_ID)}
    users = sorted(top)
    items = sorted({i for lst in top.values() for i in lst})
    vec = {u: np.array([1.0 if i in top[u] else 0.0 for i in items]) for u in users}
    pers = Personalization(k).calc_per_user(reco)
    for u in users:
        sims = [vec[u] @ vec[v] / np.linalg.norm(vec[u]) / np.linalg.norm(vec[v]) for v in users if v != u]
        assert pers[u] == pytest.approx(1 - np.mean(sims))
    rng = np.random.default_rng(0)
    ids = np.array([f"i{j}" for j in range(10)])
    x = rng.random((10, 3)) * (rng.random((10, 3)) > 0.3)
    ild = IntraListDiversity(k).calc_per_user(reco, item_features=ItemFeatures(ids, sp.csr_matrix(x)))
    row = {i: x[int(i[1:])] for i in ids}
    for u in users:
        lst = top[u]
        if len(lst) < 2:
            assert u not in ild.index
            continue
        dists = []
        for a in lst:
            for b in lst:
                if a != b:
                    na, nb = np.linalg.norm(row[a]), np.linalg.norm(row[b])
                    dists.append(1 - (row[a] @ row[b] / na / nb if na > 0 and nb > 0 else 0.0))
        assert ild[u] == pytest.approx(np.mean(dists))


# ---------------------------------------------------------------------------------------------
# against lightfm.evaluation
# ---------------------------------------------------------------------------------------------


def test_metrics_match_lightfm_evaluation() -> None:
    from lightfm import LightFM
    from lightfm.evaluation import auc_score, precision_at_k, recall_at_k

    rng = np.random.default_rng(3)
    n_users, n_items, k = 30, 40, 5
    dense = rng.random((n_users, n_items))
    dense[3] = np.where(dense[3] < 0.15, dense[3], 0.9)  # a user with no test items
    train_m = sp.csr_matrix((dense < 0.15).astype(np.float32))
    test_m = sp.csr_matrix(((dense >= 0.15) & (dense < 0.25)).astype(np.float32))
    model = LightFM(no_components=8, loss="warp", random_state=1).fit(train_m, epochs=3)
    uu, ii = np.meshgrid(np.arange(n_users), np.arange(n_items), indexing="ij")
    scores = model.predict(uu.ravel().astype(np.int32), ii.ravel().astype(np.int32)).reshape(n_users, n_items)
    scores[train_m.toarray() > 0] = -np.inf  # lists exclude training positives, like LightFM
    order = np.argsort(-scores, axis=1, kind="stable")
    rows = []
    for u in range(n_users):
        for r, i in enumerate(order[u]):
            if np.isfinite(scores[u, i]):
                rows.append((f"u{u}", f"i{i}", r + 1))
    reco = pd.DataFrame(rows, columns=[C.USER_ID, C.ITEM_ID, C.RANK])
    tc = test_m.tocoo()
    test = pd.DataFrame({C.USER_ID: [f"u{u}" for u in tc.row], C.ITEM_ID: [f"i{i}" for i in tc.col]})

    assert Precision(k).calc(reco, test) == pytest.approx(precision_at_k(model, test_m, train_m, k=k).mean(), abs=1e-6)
    assert Recall(k).calc(reco, test) == pytest.approx(recall_at_k(model, test_m, train_m, k=k).mean(), abs=1e-6)
    assert AUC().calc(reco, test) == pytest.approx(auc_score(model, test_m, train_m).mean(), abs=1e-5)
    per = Precision(k).calc_per_user(reco, test)
    assert "u3" not in per.index and len(per) == len(precision_at_k(model, test_m, train_m, k=k))


def test_calc_metrics_helpers() -> None:
    train = pairs({"a": ["x"], "b": ["y"]})
    feats = ItemFeatures(np.array(["x", "y", "z", "w"]), sp.identity(4, format="csr"))
    values = calc_metrics(default_metrics(3), RECO, TEST, train=train, catalog=["x", "y", "z", "w", "q", "v"], item_features=feats)
    assert list(values)[:3] == ["precision@3", "recall@3", "ndcg@3"]
    assert all(np.isfinite(v) for v in values.values())
    per = calc_metrics_per_user(default_metrics(3), RECO, TEST, train=train, item_features=feats)
    assert "coverage@3" not in per.columns and "precision@3" in per.columns
