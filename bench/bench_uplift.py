"""Uplift bench: ours against scikit-uplift and causalml on the same split, and profit vs response.

``hillstrom`` (real data, Kevin Hillstrom's randomised e-mail test): for each e-mail arm against
``No E-Mail``, one stratified 70/30 split (seed 0), then on the held-out rows the Qini coefficient,
AUUC and uplift@30% with Poisson-bootstrap intervals (``recsys.metrics.uplift``, the same code for
every contender) and the paired difference of each contender against OUR X-learner:

* ours: ``recsys.learn.uplift`` T-learner and X-learner;
* scikit-uplift: ``TwoModels`` (vanilla), ``ClassTransformation``;
* causalml: ``BaseTClassifier``, ``BaseXClassifier``, ``BaseSClassifier``;

all on the SAME scikit-learn base estimator (our histogram gradient boosting settings), so the
comparison is about the method and its implementation, not the base model. The libraries are kept
out of PromoLens' dependencies: run this bench in its own environment, e.g.
``python -m venv /tmp/benchenv && /tmp/benchenv/bin/pip install scikit-uplift causalml`` then
``PYTHONPATH=. /tmp/benchenv/bin/python bench/bench_uplift.py hillstrom --data PATH/hillstrom.csv``.
A library that is missing is reported and skipped.

``profit`` (the sample shop's planted truth): see :func:`profit_bench`.
Only the work is timed (reading files is not).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.learn import uplift as U
from recsys.metrics.uplift import evaluate_uplift

FEATURES = ["recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie", "channel"]
OURS_X = "ours x_learner"


def _library_contenders(seed: int) -> dict[str, object]:
    """name -> callable(X_train, t_train, y_train, X_test) -> uplift, for each library that imports."""
    out: dict[str, object] = {}
    try:
        from sklift.models import ClassTransformation, TwoModels

        def sklift_two(Xtr, ttr, ytr, Xte):
            m = TwoModels(estimator_trmnt=U.classifier(seed), estimator_ctrl=U.classifier(seed), method="vanilla")
            return m.fit(Xtr, ytr, ttr).predict(Xte)

        def sklift_ct(Xtr, ttr, ytr, Xte):
            return ClassTransformation(U.classifier(seed)).fit(Xtr, ytr, ttr).predict(Xte)

        out["sklift TwoModels"] = sklift_two
        out["sklift ClassTransformation"] = sklift_ct
    except ImportError as exc:
        print(f"scikit-uplift not available ({exc}); skipped")
    try:
        from causalml.inference.meta import BaseSClassifier, BaseTClassifier, BaseXClassifier

        def causal(cls, propensity: bool = False, **kw):
            def run(Xtr, ttr, ytr, Xte):
                m = cls(**kw)
                # randomised data: the propensity is the treated share (no propensity model to fit)
                extra_fit = {"p": np.full(len(Xtr), ttr.mean())} if propensity else {}
                extra_predict = {"p": np.full(len(Xte), ttr.mean())} if propensity else {}
                m.fit(X=Xtr, treatment=np.where(ttr, "treat", "control"), y=ytr, **extra_fit)
                return np.asarray(m.predict(X=Xte, **extra_predict)).ravel()
            return run

        out["causalml T"] = causal(BaseTClassifier, learner=U.classifier(seed), control_name="control")
        out["causalml X"] = causal(BaseXClassifier, propensity=True, outcome_learner=U.classifier(seed),
                                   effect_learner=U.regressor(seed), control_name="control")
        out["causalml S"] = causal(BaseSClassifier, learner=U.classifier(seed), control_name="control")
    except ImportError as exc:
        print(f"causalml not available ({exc}); skipped")
    return out


def hillstrom_bench(path: Path, outcome: str, seed: int, n_boot: int) -> None:
    frame = pd.read_csv(path)
    print(f"Hillstrom ({path.name}, {len(frame):,} rows), outcome {outcome}, 70/30 split seed {seed}, "
          f"{n_boot} bootstrap replicates; load avg {os.getloadavg()[0]:.2f}")
    libraries = _library_contenders(seed)
    for arm in ("Mens E-Mail", "Womens E-Mail"):
        part = frame[frame["segment"].isin([arm, "No E-Mail"])].reset_index(drop=True)
        t = part["segment"].eq(arm).to_numpy()
        y = part[outcome].to_numpy(dtype="float64")
        train, test = U.split_rows(len(part), t, 0.3, seed)
        enc = U.TableEncoder(FEATURES).fit(part.iloc[train])
        Xtr, Xte = enc.transform(part.iloc[train]), enc.transform(part.iloc[test])
        scores, seconds = {}, {}
        for name in U.LEARNERS:
            start = time.perf_counter()
            scores[f"ours {name}"] = U.make_learner(name, seed).fit(Xtr, t[train], y[train]).predict(Xte)
            seconds[f"ours {name}"] = time.perf_counter() - start
        for name, run in libraries.items():
            start = time.perf_counter()
            scores[name] = run(Xtr, t[train], y[train], Xte)
            seconds[name] = time.perf_counter() - start
        scores["random"] = np.random.default_rng(seed + 1).random(len(test))
        e = evaluate_uplift(y[test], t[test], scores, k=0.3, n_boot=n_boot, seed=seed, reference=OURS_X)
        print(f"\n{arm} vs No E-Mail: {len(train):,} train / {len(test):,} held-out rows; average effect "
              f"{e.average_effect[0]:+.4f} [{e.average_effect[1]:+.4f}, {e.average_effect[2]:+.4f}]")
        print(f"  {'contender':<28} {'Qini coefficient':>26} {'AUUC':>26} {'uplift@30%':>26} {'fit s':>7} {'x ours-X':>8}")
        for name, row in e.table.iterrows():
            cells = [f"{row[m]:+.4f} [{row[m + '_low']:+.4f},{row[m + '_high']:+.4f}]" for m in ("qini", "auuc", "uplift_at_k")]
            sec = seconds.get(name, float("nan"))
            ratio = sec / seconds[OURS_X] if name in seconds else float("nan")
            print(f"  {name:<28} " + " ".join(f"{c:>26}" for c in cells) + f" {sec:7.2f} {ratio:8.2f}")
        qini = e.differences[e.differences["metric"].eq("qini")]
        print("  Qini difference, contender minus ours X-learner (paired bootstrap):")
        for d in qini.itertuples(index=False):
            verdict = {"better": "the contender is better", "worse": "ours is better"}.get(d.verdict, d.verdict)
            print(f"    {d.score:<28} {d.difference:+.4f} [{d.low:+.4f}, {d.high:+.4f}] -> {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="which", required=True)
    h = sub.add_parser("hillstrom")
    h.add_argument("--data", type=Path, default=os.environ.get("PROMOLENS_HILLSTROM"))
    h.add_argument("--outcome", default="visit")
    h.add_argument("--seed", type=int, default=0)
    h.add_argument("--bootstrap", type=int, default=200)
    p = sub.add_parser("profit")
    p.add_argument("--budget", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.which == "hillstrom":
        if args.data is None or not Path(args.data).exists():
            raise SystemExit("give --data PATH/hillstrom.csv or set PROMOLENS_HILLSTROM")
        hillstrom_bench(Path(args.data), args.outcome, args.seed, args.bootstrap)
    else:
        profit_bench(args.budget, args.seed)


def profit_bench(budget: int, seed: int) -> None:
    """``--objective profit`` vs ``uplift`` vs ``response`` at the same budget, judged by the planted truth.

    The sample shop: the uplift model (X-learner) is fitted on its past randomised campaigns (70% of the
    customers; 30% held out for the calibration intervals); every customer x every percent-off offer live
    on the last day is a candidate; each objective picks ``budget`` coupons (1 per customer) with
    ``recsys.campaign.allocation.allocate``; the chosen pairs are then judged by the generator's TRUE
    incremental profit and responders (``recsys.data.past_campaigns``, margin 50%). ``response`` ranks by
    the model's P(convert | sent), i.e. today's targeting by response probability.
    """
    from recsys.campaign import roi
    from recsys.campaign.allocation import allocate
    from recsys.core import columns as C
    from recsys.data import past_campaigns as pc
    from recsys.data.synth import load_sample
    from recsys.learn.response import live_mask

    shop = load_sample(Path(__file__).resolve().parents[1] / "sample_data")
    items, day = shop.items, pd.Timestamp(shop.truth["period"]["end"])
    live = items[live_mask(items, items[C.ITEM_ID].to_numpy(), day) & items["campaign_type"].eq("percent_off").to_numpy()]
    users = shop.users[C.USER_ID].to_numpy()
    print(f"Sample shop: {len(users):,} customers x {len(live)} live percent-off offers "
          f"(depths {sorted(live['discount_depth'].unique().tolist())}), budget {budget} coupons, 1 per customer; "
          f"load avg {os.getloadavg()[0]:.2f}")
    start = time.perf_counter()
    model = U.ShopUplift(seed=seed).fit(shop.past_campaigns, shop.interactions, shop.users, items)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    uu, ii = np.repeat(users, len(live)), np.tile(live[C.ITEM_ID].to_numpy(), len(users))
    values = roi.value_pairs(model, uu, ii, day, shop.interactions, shop.users, items, margin=pc.MARGIN_RATE)
    score_s = time.perf_counter() - start
    h = model.holdout_
    cal = roi.calibration(h["uplift"], h["treated"], h["converted"], seed=seed)
    category = items.set_index(C.ITEM_ID)["category"]
    print(f"uplift model fit {fit_s:.1f} s, {len(values):,} pairs valued in {score_s:.1f} s")
    print(f"  {'objective':<10} {'sent':>5} {'true incr. profit':>18} {'true incr. resp.':>17} "
          f"{'bargain':>8} {'loyal':>6} {'premium':>8} {'mean depth':>10} {'left out':>9} {'alloc s':>8}   predicted profit [interval]")
    truth = {}
    for objective in roi.OBJECTIVES:
        start = time.perf_counter()
        sel = roi.select_pairs(values, items, objective)
        kept = sel.values
        u_codes, u_index = pd.factorize(kept[C.USER_ID])
        i_codes, _ = pd.factorize(kept[C.ITEM_ID])
        chosen, _ = allocate(u_codes, i_codes, kept[C.SCORE].to_numpy(), cap=1, total_coupons=budget, seed=seed)
        alloc_s = time.perf_counter() - start
        sent = kept[chosen]
        true_profit = pc.true_incremental_profit(shop.truth, sent[C.USER_ID].to_numpy(), sent["depth"].to_numpy() * 100,
                                                 category.reindex(sent[C.ITEM_ID]).to_numpy())
        true_resp = pc.true_uplift(shop.truth, sent[C.USER_ID].to_numpy(), sent["depth"].to_numpy() * 100,
                                   category.reindex(sent[C.ITEM_ID]).to_numpy())
        persona = pd.Series(shop.truth["user_persona"]).reindex(sent[C.USER_ID]).value_counts()
        summary = roi.roi_summary(sent, cal).set_index("measure")
        p = summary.loc["incremental profit"]
        truth[objective] = true_profit
        print(f"  {objective:<10} {len(sent):>5} {true_profit.sum():>18,.1f} {true_resp.sum():>17.1f} "
              f"{persona.get('bargain_hunter', 0):>8} {persona.get('brand_loyal', 0):>6} {persona.get('premium', 0):>8} "
              f"{sent['depth'].mean() * 100:>10.1f} {sel.negative_customers:>9,} {alloc_s:>8.2f}   "
              f"{p['model']:,.1f} (calibrated {p['observed']:,.1f} [{p['low']:,.1f}, {p['high']:,.1f}])")
    rng = np.random.default_rng(seed)
    for a, b in (("profit", "response"), ("uplift", "response"), ("profit", "uplift")):
        # true values are exact; the interval is over which customers happen to be chosen (bootstrap of each list)
        diffs = [rng.choice(truth[a], len(truth[a])).sum() - rng.choice(truth[b], len(truth[b])).sum() for _ in range(1000)]
        lo, hi = np.quantile(diffs, [0.025, 0.975])
        print(f"  true incremental profit, {a} minus {b}: {truth[a].sum() - truth[b].sum():+,.1f} "
              f"(bootstrap over the chosen pairs [{lo:+,.1f}, {hi:+,.1f}])")


if __name__ == "__main__":
    main()
