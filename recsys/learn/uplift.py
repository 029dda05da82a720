"""Uplift models: how much does sending the coupon change a customer's chance to convert?

A response probability ranks customers by P(convert | sent); a coupon is only worth sending where
it *changes* that: the uplift :math:`\\tau(x) = P(y=1 | x, sent) - P(y=1 | x, not sent)`. It is
learned from randomised data (past exports with a random control group, an A/B test such as
Hillstrom's), on scikit-learn estimators:

* :class:`TLearner` (two models): :math:`\\hat\\mu_1` fitted on treated rows, :math:`\\hat\\mu_0`
  on control rows, :math:`\\hat\\tau = \\hat\\mu_1 - \\hat\\mu_0`;
* :class:`XLearner` (Kunzel et al. 2019): the T-learner's models impute each row's effect,
  :math:`D_1 = y - \\hat\\mu_0(x)` on treated and :math:`D_0 = \\hat\\mu_1(x) - y` on control rows;
  two regressions :math:`\\hat\\tau_1, \\hat\\tau_0` smooth them and
  :math:`\\hat\\tau = g\\,\\hat\\tau_0 + (1-g)\\,\\hat\\tau_1` with :math:`g` the treated share
  (a constant propensity: the data are randomised). Its second stage is a gradient-boosted tree
  ensemble, so :meth:`XLearner.explain` gives EXACT Shapley attributions of :math:`\\hat\\tau`
  over its inputs (TreeSHAP through ``shap``; linear in the two regressions, so they combine).

Inputs are whatever describes the customer and the offer: facts (one-hot), history as of the send
date (:func:`history_features`), offer facts (discount depth, minimum spend, ...) and, when given,
the response model's probability. :func:`evaluate_arms` fits and judges both learners on a held-out
part of any randomised table, per treatment arm, against random targeting and against targeting
by P(convert | sent) (the response ranking), with :mod:`recsys.metrics.uplift`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder

from recsys.core import columns as C
from recsys.core.errors import PromoLensError
from recsys.metrics.uplift import UpliftEvaluation, evaluate_uplift, interval_text

SEED = 0
TEST_SHARE = 0.3
MAX_CATEGORIES = 30  # a text column with more distinct values is an identifier, not a feature
LEARNERS: tuple[str, ...] = ("t_learner", "x_learner")
RESPONSE = "response (P convert if sent)"
RANDOM = "random"


class UpliftError(PromoLensError, ValueError):
    """Bad input to an uplift model (no control rows, unknown column, outcome not numeric, ...)."""


def classifier(seed: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, max_leaf_nodes=4, min_samples_leaf=200,
                                          l2_regularization=1.0, random_state=seed)


def regressor(seed: int) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(max_iter=150, learning_rate=0.05, max_leaf_nodes=4, min_samples_leaf=200,
                                         l2_regularization=1.0, random_state=seed)


def _is_binary(y: np.ndarray) -> bool:
    return bool(np.isin(np.unique(y), [0.0, 1.0]).all())


def _outcome_model(binary: bool, seed: int) -> Any:
    return classifier(seed) if binary else regressor(seed)


def _predict_mean(model: Any, X: np.ndarray) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(X)
        return proba[:, list(model.classes_).index(1.0)] if 1.0 in model.classes_ else np.zeros(len(X))
    return model.predict(X)


def _check_fit(X: np.ndarray, treated: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype="float64")
    t = np.asarray(treated, dtype=bool)
    y = np.asarray(y, dtype="float64")
    if not (len(X) == len(t) == len(y)):
        raise UpliftError("features, treatment and outcome must have the same number of rows.")
    if t.sum() < 10 or (~t).sum() < 10:
        raise UpliftError(f"an uplift model needs at least 10 treated and 10 control rows; got {int(t.sum())} "
                          f"treated and {int((~t).sum())} control.")
    if not np.isfinite(y).all():
        raise UpliftError("the outcome has missing or non-numeric values.")
    return X, t, y


class TLearner:
    """Two outcome models, one per arm; uplift = their difference. ``fit`` returns self."""

    def __init__(self, seed: int = SEED) -> None:
        self.seed = seed

    def fit(self, X: Any, treated: Any, y: Any) -> "TLearner":
        X, t, y = _check_fit(X, treated, y)
        self.binary_ = _is_binary(y)
        self.model_treated_ = _outcome_model(self.binary_, self.seed).fit(X[t], y[t])
        self.model_control_ = _outcome_model(self.binary_, self.seed).fit(X[~t], y[~t])
        self.treated_share_ = float(t.mean())
        return self

    def predict_arms(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Expected outcome without and with the treatment, per row."""
        if not hasattr(self, "model_treated_"):
            raise UpliftError("the uplift model is not fitted yet: call fit first.")
        X = np.asarray(X, dtype="float64")
        return _predict_mean(self.model_control_, X), _predict_mean(self.model_treated_, X)

    def predict(self, X: Any) -> np.ndarray:
        control, treated = self.predict_arms(X)
        return treated - control


class XLearner:
    """The X-learner on a :class:`TLearner` first stage and tree regressions of the imputed effects."""

    def __init__(self, seed: int = SEED) -> None:
        self.seed = seed

    def fit(self, X: Any, treated: Any, y: Any) -> "XLearner":
        X, t, y = _check_fit(X, treated, y)
        self.first_ = TLearner(self.seed).fit(X, t, y)
        control, treat = self.first_.predict_arms(X)
        self.tau_treated_ = regressor(self.seed).fit(X[t], y[t] - control[t])
        self.tau_control_ = regressor(self.seed).fit(X[~t], treat[~t] - y[~t])
        self.g_ = float(t.mean())
        return self

    def predict_arms(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        return self.first_.predict_arms(X)

    def predict(self, X: Any) -> np.ndarray:
        if not hasattr(self, "g_"):
            raise UpliftError("the uplift model is not fitted yet: call fit first.")
        X = np.asarray(X, dtype="float64")
        return self.g_ * self.tau_control_.predict(X) + (1.0 - self.g_) * self.tau_treated_.predict(X)

    def explain(self, X: Any) -> tuple[np.ndarray, float]:
        """Exact Shapley attributions of the predicted uplift (rows x features) and the base value:
        ``base + attributions.sum(axis=1) == predict(X)`` to rounding."""
        import shap  # imported here: only explanations need it

        X = np.asarray(X, dtype="float64")
        e0, e1 = shap.TreeExplainer(self.tau_control_), shap.TreeExplainer(self.tau_treated_)
        values = self.g_ * e0.shap_values(X) + (1.0 - self.g_) * e1.shap_values(X)
        base = self.g_ * float(np.ravel(e0.expected_value)[0]) + (1.0 - self.g_) * float(np.ravel(e1.expected_value)[0])
        return values, base


def make_learner(name: str, seed: int = SEED) -> TLearner | XLearner:
    """A fresh learner by name (:data:`LEARNERS`)."""
    if name == "t_learner":
        return TLearner(seed)
    if name == "x_learner":
        return XLearner(seed)
    raise UpliftError(f"unknown uplift learner {name!r}; choose one of {', '.join(LEARNERS)}.")


# ------------------------------------------------------------------------------------------------
# features
# ------------------------------------------------------------------------------------------------
def feature_columns(frame: pd.DataFrame, exclude: Sequence[str] = ()) -> list[str]:
    """Usable feature columns of a table: numbers, booleans, and text with few distinct values."""
    keep = []
    for name in frame.columns:
        if name in exclude:
            continue
        col = frame[name]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            keep.append(name)
        elif col.nunique(dropna=True) <= MAX_CATEGORIES:
            keep.append(name)
    return keep


class TableEncoder:
    """One-hot text columns, pass numbers through; fitted on training rows only."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)

    def fit(self, frame: pd.DataFrame) -> "TableEncoder":
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise UpliftError(f"feature column(s) {missing} not in the table; columns are {list(frame.columns)}.")
        self.text_ = [c for c in self.columns if not (pd.api.types.is_numeric_dtype(frame[c])
                                                      or pd.api.types.is_bool_dtype(frame[c]))]
        numbers = [c for c in self.columns if c not in self.text_]
        self.transformer_ = ColumnTransformer(
            [("text", OneHotEncoder(handle_unknown="ignore", sparse_output=False), self.text_),
             ("numbers", "passthrough", numbers)], verbose_feature_names_out=False,
        ).fit(self._prepared(frame))
        self.names_ = [str(n) for n in self.transformer_.get_feature_names_out()]
        return self

    def _prepared(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame[self.columns].copy()
        for c in getattr(self, "text_", []):
            out[c] = out[c].astype(str)
        return out

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.transformer_.transform(self._prepared(frame)), dtype="float64")


def history_features(rows: pd.DataFrame, interactions: pd.DataFrame, items: pd.DataFrame | None,
                     as_of: str, category: str | None = "category", depth: str | None = "discount_depth",
                     deep_threshold: float = 30.0) -> pd.DataFrame:
    """Each row's customer history strictly before the row's ``as_of`` date.

    Counts of each event kind, total value, responses to deep discounts (``depth >= deep_threshold``)
    and events in the row's offer category (when the items table has those columns). One merge over
    the customers' events, then group sums: no loop over rows.
    """
    events = interactions[[C.USER_ID, C.ITEM_ID, C.EVENT, C.TIMESTAMP, C.VALUE]].copy()
    key = rows[[C.USER_ID, C.ITEM_ID, as_of]].copy()
    key["_row"] = np.arange(len(rows))
    facts = items.set_index(C.ITEM_ID) if items is not None else None
    if facts is not None and category in facts.columns:
        key["_cat"] = key[C.ITEM_ID].map(facts[category])
        events["_ecat"] = events[C.ITEM_ID].map(facts[category])
    if facts is not None and depth in facts.columns:
        events["_deep"] = events[C.ITEM_ID].map(facts[depth]).fillna(0.0) >= deep_threshold
    joined = key.merge(events.drop(columns=[C.ITEM_ID]), on=C.USER_ID, how="inner")
    joined = joined[joined[C.TIMESTAMP] < joined[as_of]]
    out = pd.DataFrame(index=pd.RangeIndex(len(rows)))
    kinds = [C.IMPRESSION, C.CLICK, C.REDEEM, C.PURCHASE]
    counts = pd.crosstab(joined["_row"], joined[C.EVENT]).reindex(columns=kinds, fill_value=0)
    for kind in kinds:
        out[f"past_{kind}s"] = counts[kind].reindex(out.index, fill_value=0).to_numpy()
    out["past_value"] = joined.groupby("_row")[C.VALUE].sum().reindex(out.index, fill_value=0.0).to_numpy()
    last = joined.groupby("_row")[C.TIMESTAMP].max().reindex(out.index)
    out["days_since_last_event"] = ((rows[as_of].to_numpy() - last.to_numpy()) / np.timedelta64(1, "D"))
    out["days_since_last_event"] = out["days_since_last_event"].fillna(999.0)
    if "_deep" in joined:
        deep = joined[joined["_deep"] & joined[C.EVENT].isin([C.REDEEM, C.PURCHASE])]
        out["past_deep_responses"] = deep.groupby("_row").size().reindex(out.index, fill_value=0).to_numpy()
        resp = joined[joined[C.EVENT].isin([C.REDEEM, C.PURCHASE])]
        out["past_shallow_responses"] = (resp.groupby("_row").size().reindex(out.index, fill_value=0).to_numpy()
                                         - out["past_deep_responses"].to_numpy())
    if "_cat" in joined:
        same = joined[joined["_cat"] == joined["_ecat"]]
        by = pd.crosstab(same["_row"], same[C.EVENT]).reindex(columns=[C.CLICK, C.REDEEM], fill_value=0)
        out["past_clicks_in_category"] = by[C.CLICK].reindex(out.index, fill_value=0).to_numpy()
        out["past_redeems_in_category"] = by[C.REDEEM].reindex(out.index, fill_value=0).to_numpy()
    return out


def offer_features(rows: pd.DataFrame, items: pd.DataFrame | None) -> pd.DataFrame:
    """The numeric facts of each row's offer (discount depth, minimum spend, ...)."""
    if items is None:
        return pd.DataFrame(index=pd.RangeIndex(len(rows)))
    numeric = [c for c in items.columns if c != C.ITEM_ID and pd.api.types.is_numeric_dtype(items[c])]
    facts = items.drop_duplicates(C.ITEM_ID).set_index(C.ITEM_ID)[numeric]
    return facts.reindex(rows[C.ITEM_ID].to_numpy()).reset_index(drop=True).add_prefix("offer_")


def customer_facts(rows: pd.DataFrame, users: pd.DataFrame | None, exclude: Sequence[str] = ()) -> pd.DataFrame:
    """Low-cardinality facts of each row's customer (identifiers and ``exclude`` left out)."""
    if users is None:
        return pd.DataFrame(index=pd.RangeIndex(len(rows)))
    usable = feature_columns(users.drop(columns=[c for c in users.columns
                                                 if pd.api.types.is_datetime64_any_dtype(users[c])]),
                             exclude=[C.USER_ID, *exclude])
    facts = users.drop_duplicates(C.USER_ID).set_index(C.USER_ID)[usable]
    return facts.reindex(rows[C.USER_ID].to_numpy()).reset_index(drop=True)


def shop_features(rows: pd.DataFrame, interactions: pd.DataFrame, users: pd.DataFrame | None,
                  items: pd.DataFrame | None, as_of: str, exclude_facts: Sequence[str] = ()) -> pd.DataFrame:
    """Customer facts + history as of each row's date + offer facts: the uplift model's table."""
    return pd.concat([customer_facts(rows, users, exclude_facts), history_features(rows, interactions, items, as_of),
                      offer_features(rows, items)], axis=1)


# ------------------------------------------------------------------------------------------------
# fit and judge on a randomised table
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArmResult:
    """One treatment arm against the control on held-out rows."""

    arm: str
    n_train: int
    n_test: int
    evaluation: UpliftEvaluation

    def to_dict(self) -> dict[str, Any]:
        return {"arm": self.arm, "n_train": self.n_train, "n_test": self.n_test, **self.evaluation.to_dict()}


def split_rows(n: int, treated: np.ndarray, test_share: float = TEST_SHARE, seed: int = SEED,
               groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Train / test row positions, stratified by arm (or whole groups, e.g. customers, kept together)."""
    positions = np.arange(n)
    if groups is not None:
        unique = pd.unique(groups)
        test_groups = np.random.default_rng(seed).permutation(len(unique))[: int(round(test_share * len(unique)))]
        test = pd.Index(unique[test_groups])
        mask = pd.Index(groups).isin(test)
        return positions[~mask], positions[mask]
    train, test = train_test_split(positions, test_size=test_share, random_state=seed, stratify=treated)
    return np.sort(train), np.sort(test)


def evaluate_arms(frame: pd.DataFrame, treatment: str, control: Any, outcome: str,
                  features: Sequence[str] | None = None, k: float = 0.3, n_boot: int = 200, seed: int = SEED,
                  test_share: float = TEST_SHARE, learners: Sequence[str] = LEARNERS) -> list[ArmResult]:
    """Fit each learner per treatment arm vs ``control`` and judge it on held-out rows.

    Contenders on the held-out rows: each learner's uplift, the response ranking (the T-learner's
    P(outcome | treated)) and random targeting; differences are against random (paired intervals).
    """
    for name in (treatment, outcome):
        if name not in frame.columns:
            raise UpliftError(f"column {name!r} is not in the table; columns are {list(frame.columns)}.")
    arms = frame[treatment].astype(str)
    control = str(control)
    if not arms.eq(control).any():
        raise UpliftError(f"no row has {treatment} = {control!r}; values are {sorted(arms.unique())[:10]}.")
    y_all = pd.to_numeric(frame[outcome], errors="coerce")
    if y_all.isna().any():
        bad = np.flatnonzero(y_all.isna().to_numpy())[:5] + 2
        raise UpliftError(f"outcome column {outcome!r} has missing or non-numeric values (file rows {bad.tolist()}); "
                          "use a 0/1 or amount column.")
    features = list(features) if features else feature_columns(frame, exclude=[treatment, outcome])
    results = []
    for arm in sorted(a for a in arms.unique() if a != control):  # a handful of arms
        part = frame[arms.isin([arm, control])].reset_index(drop=True)
        t = part[treatment].astype(str).eq(arm).to_numpy()
        y = y_all[arms.isin([arm, control])].to_numpy(dtype="float64")
        train, test = split_rows(len(part), t, test_share, seed)
        encoder = TableEncoder(features).fit(part.iloc[train])
        X_train, X_test = encoder.transform(part.iloc[train]), encoder.transform(part.iloc[test])
        scores: dict[str, np.ndarray] = {}
        for name in learners:
            model = make_learner(name, seed).fit(X_train, t[train], y[train])
            scores[name] = model.predict(X_test)
            if name == "t_learner":
                scores[RESPONSE] = model.predict_arms(X_test)[1]
        scores[RANDOM] = np.random.default_rng(seed + 1).random(len(test))
        evaluation = evaluate_uplift(y[test], t[test], scores, k=k, n_boot=n_boot, seed=seed, reference=RANDOM)
        results.append(ArmResult(arm, len(train), len(test), evaluation))
    return results


def format_arms(results: Sequence[ArmResult], outcome: str) -> str:
    """A plain-text report: per arm and contender, Qini coefficient, AUUC and uplift@k with intervals."""
    lines = []
    for r in results:
        e = r.evaluation
        avg, lo, hi = e.average_effect
        lines.append(f"{r.arm} vs control — {outcome}: {r.n_train:,} training rows, {r.n_test:,} held-out rows; "
                     f"average effect {avg:+.4f} [{lo:+.4f}, {hi:+.4f}]")
        lines.append(f"  {'contender':<30} {'Qini coefficient':>28} {'AUUC':>28} {f'uplift@{e.k:.0%}':>28}")
        names = pd.Series(e.table.index, index=e.table.index).astype(str).str.ljust(30)
        rows = "  " + names
        for m in ("qini", "auuc", "uplift_at_k"):
            rows = rows + " " + interval_text(e.table, m).str.rjust(28)
        lines.extend(rows.tolist())
        qini = e.differences[e.differences["metric"].eq("qini")]
        for d in qini.itertuples(index=False):
            lines.append(f"  Qini {d.score} minus {d.reference}: {d.difference:+.4f} [{d.low:+.4f}, {d.high:+.4f}] -> {d.verdict}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# a shop's uplift model: learned from its past exports with control groups
# ------------------------------------------------------------------------------------------------
#: Columns a shop's randomised history needs (one row per customer x campaign; the export's own shape).
HISTORY_COLUMNS: tuple[str, ...] = (C.USER_ID, C.ITEM_ID, C.GROUP, "sent_date", "converted")


class ShopUplift:
    """Uplift of (customer, offer) pairs learned from a shop's past randomised campaigns.

    ``fit`` takes the past campaigns (columns :data:`HISTORY_COLUMNS`: ``group`` is ``treatment`` or
    ``control``, ``converted`` 0/1) and the shop's tables; features are the customers' facts, their
    history strictly before each send date and the offers' facts, so a model learned on last
    quarter's campaigns scores today's live offers as of today.
    """

    def __init__(self, learner: str = "x_learner", seed: int = SEED, exclude_facts: Sequence[str] = (),
                 holdout_share: float = TEST_SHARE) -> None:
        self.learner = learner
        self.seed = seed
        self.exclude_facts = tuple(exclude_facts)
        self.holdout_share = holdout_share

    def fit(self, past: pd.DataFrame, interactions: pd.DataFrame, users: pd.DataFrame | None,
            items: pd.DataFrame | None) -> "ShopUplift":
        missing = [c for c in HISTORY_COLUMNS if c not in past.columns]
        if missing:
            raise UpliftError(f"the past campaigns table has no column(s) {missing}; it needs {list(HISTORY_COLUMNS)} "
                              "(an export's customers with their group and whether they converted).")
        groups = past[C.GROUP].astype(str)
        if not groups.isin([C.TREATMENT, C.CONTROL]).all():
            raise UpliftError(f"column '{C.GROUP}' must be '{C.TREATMENT}' or '{C.CONTROL}'.")
        table = self._features(past, interactions, users, items, "sent_date")
        t = groups.eq(C.TREATMENT).to_numpy()
        y = past["converted"].to_numpy(dtype="float64")
        # Whole customers are held out, so the held-out rows judge the model on customers it never saw.
        train, test = (split_rows(len(past), t, self.holdout_share, self.seed, groups=past[C.USER_ID].to_numpy())
                       if self.holdout_share > 0 else (np.arange(len(past)), np.arange(0)))
        self.encoder_ = TableEncoder(list(table.columns)).fit(table.iloc[train])
        X = self.encoder_.transform(table)
        self.model_ = make_learner(self.learner, self.seed).fit(X[train], t[train], y[train])
        self.n_rows_ = len(past)
        self.holdout_ = pd.DataFrame({"uplift": self.model_.predict(X[test]), "p_with": self.model_.predict_arms(X[test])[1],
                                      "treated": t[test], "converted": y[test]})
        return self

    def evaluation(self, k: float = 0.3, n_boot: int = 200) -> UpliftEvaluation:
        """Qini, AUUC and uplift@k on the held-out customers: uplift vs response ranking vs random."""
        h = self.holdout_
        scores = {"uplift": h["uplift"].to_numpy(), RESPONSE: h["p_with"].to_numpy(),
                  RANDOM: np.random.default_rng(self.seed + 1).random(len(h))}
        return evaluate_uplift(h["converted"].to_numpy(), h["treated"].to_numpy(), scores, k=k, n_boot=n_boot,
                               seed=self.seed, reference=RANDOM)

    def _features(self, rows: pd.DataFrame, interactions: pd.DataFrame, users: pd.DataFrame | None,
                  items: pd.DataFrame | None, as_of: str) -> pd.DataFrame:
        rows = rows.assign(**{as_of: pd.to_datetime(rows[as_of])})
        return shop_features(rows, interactions, users, items, as_of, self.exclude_facts)

    def pair_features(self, user_ids: Any, item_ids: Any, as_of: Any, interactions: pd.DataFrame,
                      users: pd.DataFrame | None, items: pd.DataFrame | None) -> tuple[pd.DataFrame, np.ndarray]:
        """The model's input table and encoded matrix of (customer, offer) pairs as of one date."""
        if not hasattr(self, "model_"):
            raise UpliftError("the uplift model is not fitted yet: call fit first.")
        rows = pd.DataFrame({C.USER_ID: np.asarray(user_ids, dtype=object).astype(str),
                             C.ITEM_ID: np.asarray(item_ids, dtype=object).astype(str), "as_of": pd.Timestamp(as_of)})
        table = self._features(rows, interactions, users, items, "as_of")
        return table, self.encoder_.transform(table)

    def predict_pairs(self, user_ids: Any, item_ids: Any, as_of: Any, interactions: pd.DataFrame,
                      users: pd.DataFrame | None, items: pd.DataFrame | None) -> pd.DataFrame:
        """Per pair: ``p_without`` (no coupon), ``p_with`` (sent) and ``uplift`` (the learner's effect)."""
        _, X = self.pair_features(user_ids, item_ids, as_of, interactions, users, items)
        p0, p1 = self.model_.predict_arms(X)
        return pd.DataFrame({C.USER_ID: np.asarray(user_ids, dtype=object).astype(str),
                             C.ITEM_ID: np.asarray(item_ids, dtype=object).astype(str),
                             "p_without": p0, "p_with": p1, "uplift": self.model_.predict(X)})

    def explain_pairs(self, user_ids: Any, item_ids: Any, as_of: Any, interactions: pd.DataFrame,
                      users: pd.DataFrame | None, items: pd.DataFrame | None) -> tuple[pd.DataFrame, float]:
        """Exact attributions of each pair's predicted uplift over the model's inputs (X-learner only)."""
        if not isinstance(self.model_, XLearner):
            raise UpliftError("exact attributions need the X-learner (its second stage is a tree ensemble).")
        _, X = self.pair_features(user_ids, item_ids, as_of, interactions, users, items)
        values, base = self.model_.explain(X)
        return pd.DataFrame(values, columns=self.encoder_.names_), base
