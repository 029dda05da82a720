"""Benchmarks of the training path. Prints figures; never asserts timings.

(a) building the interaction + feature matrices vs ``lightfm.data.Dataset``
    (fit + build_interactions + build_user_features + build_item_features);
(b) our training wall time vs a bare ``LightFM.fit`` of the same epochs on the same matrices;
(c) top-10 for every user vs (1) a plain numpy chunked top-k over the bare model's representations
    and (2) a one-thread per-user ``LightFM.predict`` loop (timed on a sample of users and
    extrapolated; the figure says so), all in the same run;
(d) ``--big``: the import-free path at shop scale: train (10 epochs) + score every user on
    1M users, 2k items, 10M interactions, with wall time and peak memory.

Usage::

    .venv/bin/python bench/bench_train.py                       # (a)-(c) at 1M interactions
    .venv/bin/python bench/bench_train.py --sizes 100000        # quick
    .venv/bin/python bench/bench_train.py --sizes 1000000 10000000 --only a
    .venv/bin/python bench/bench_train.py --big                 # (d), takes many minutes
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.core import columns as C  # noqa: E402
from recsys.learn.config import FeatureConfig, ModelConfig  # noqa: E402
from recsys.learn.features import FeatureBuilder  # noqa: E402
from recsys.learn.interactions import IdIndex, build_interactions  # noqa: E402
from recsys.learn.lightfm_backend import training_data  # noqa: E402
from recsys.learn.model import HybridRecommender  # noqa: E402
from recsys.data.schema import ColumnKind, ColumnSpec, TableSchema  # noqa: E402

EVENTS = np.array([C.IMPRESSION, C.CLICK, C.REDEEM, C.PURCHASE], dtype=object)
SEGMENTS = np.array(["bargain hunter", "brand loyal", "explorer", "premium", "occasional"], dtype=object)
REGIONS = np.array(["north", "south", "east", "west"], dtype=object)
CATEGORIES = np.array(["fashion", "shoes", "electronics", "beauty", "home", "grocery", "sports", "toys"], dtype=object)
CHANNELS = np.array(["app", "email", "web"], dtype=object)
TAGS = np.array(["flash-sale", "free-shipping", "bundle", "no-minimum", "app-exclusive", "always-on"], dtype=object)
WORDS = np.array(["save", "deal", "shoes", "summer", "bags", "fresh", "premium", "kids", "garden", "sport"], dtype=object)

USER_SCHEMA = TableSchema((
    ColumnSpec("segment", ColumnKind.CATEGORICAL), ColumnSpec("region", ColumnKind.CATEGORICAL),
    ColumnSpec("spend", ColumnKind.NUMERIC), ColumnSpec("signup_date", ColumnKind.DATE),
))
ITEM_SCHEMA = TableSchema((
    ColumnSpec("category", ColumnKind.CATEGORICAL), ColumnSpec("channel", ColumnKind.CATEGORICAL),
    ColumnSpec("discount_depth", ColumnKind.NUMERIC), ColumnSpec("tags", ColumnKind.TAGS),
    ColumnSpec("description", ColumnKind.TEXT),
))


def make_shop(n_interactions: int, n_users: int, n_items: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Canonical tables of a random shop with popularity and activity skew (vectorised)."""
    rng = np.random.default_rng(seed)
    user_ids = np.char.add("u", np.arange(n_users).astype(str)).astype(object)
    item_ids = np.char.add("i", np.arange(n_items).astype(str)).astype(object)
    activity = rng.lognormal(0, 1, n_users)
    item_pop = 1.0 / np.arange(1, n_items + 1) ** 0.8
    u = rng.choice(n_users, n_interactions, p=activity / activity.sum())
    i = rng.choice(n_items, n_interactions, p=item_pop / item_pop.sum())
    interactions = pd.DataFrame({
        C.USER_ID: pd.array(user_ids[u], dtype="str"),
        C.ITEM_ID: pd.array(item_ids[i], dtype="str"),
        C.EVENT: pd.array(EVENTS[rng.choice(4, n_interactions, p=[0.6, 0.25, 0.08, 0.07])], dtype="str"),
        C.TIMESTAMP: pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 180 * 86400, n_interactions), unit="s"),
        C.WEIGHT: np.ones(n_interactions),
        C.VALUE: np.zeros(n_interactions),
    })
    users = pd.DataFrame({
        C.USER_ID: pd.array(user_ids, dtype="str"),
        "segment": pd.array(SEGMENTS[rng.integers(0, len(SEGMENTS), n_users)], dtype="str"),
        "region": pd.array(REGIONS[rng.integers(0, len(REGIONS), n_users)], dtype="str"),
        "spend": rng.gamma(2.0, 60.0, n_users).round(2),
        "signup_date": pd.Timestamp("2025-06-30") - pd.to_timedelta(rng.integers(0, 1500, n_users), unit="D"),
    })
    tag_idx = rng.integers(0, len(TAGS), (n_items, 2))
    words = WORDS[rng.integers(0, len(WORDS), (n_items, 3))]
    items = pd.DataFrame({
        C.ITEM_ID: pd.array(item_ids, dtype="str"),
        "category": pd.array(CATEGORIES[rng.integers(0, len(CATEGORIES), n_items)], dtype="str"),
        "channel": pd.array(CHANNELS[rng.integers(0, len(CHANNELS), n_items)], dtype="str"),
        "discount_depth": rng.choice([5.0, 10, 15, 20, 25, 30, 40, 50], n_items),
        "tags": pd.array(TAGS[tag_idx[:, 0]] + "|" + TAGS[tag_idx[:, 1]], dtype="str"),
        "description": pd.array(words[:, 0] + " " + words[:, 1] + " " + words[:, 2] + " offer", dtype="str"),
    })
    return interactions, users, items


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def timed(fn, repeat: int = 1):
    """(result, best wall time of `repeat` runs)."""
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


REPEAT = 3  # (a) is timed as the best of this many runs, for both sides
REPEAT_TRAIN = 2  # (b) and our side of (c)


# ---------------------------------------------------------------------------------------------
# (a) matrices
# ---------------------------------------------------------------------------------------------


def ours_build(interactions: pd.DataFrame, users: pd.DataFrame, items: pd.DataFrame):
    im = build_interactions(interactions)
    ub = FeatureBuilder(USER_SCHEMA, C.USER_ID, FeatureConfig()).fit(users, im.user_index)
    ib = FeatureBuilder(ITEM_SCHEMA, C.ITEM_ID, FeatureConfig()).fit(items, im.item_index)
    return im, ub.transform(users, im.user_index.ids), ib.transform(items, im.item_index.ids)


def lightfm_inputs(interactions: pd.DataFrame, users: pd.DataFrame, items: pd.DataFrame, ub: FeatureBuilder, ib: FeatureBuilder):
    """Python inputs for lightfm.data.Dataset, prepared outside the timer (in its favour)."""
    from recsys.learn.interactions import interaction_weights

    w = interaction_weights(interactions).to_numpy()
    triples = list(zip(interactions[C.USER_ID].tolist(), interactions[C.ITEM_ID].tolist(), w.tolist()))

    def feature_lists(builder: FeatureBuilder, table: pd.DataFrame, key: str) -> tuple[list, list[str]]:
        m = builder.side_features(builder.transform(table, table[key])).tocsr()
        names = builder.feature_index_.names[len(builder.identity_index_):]
        rows = np.split(names[m.indices], m.indptr[1:-1])
        return list(zip(table[key].tolist(), [list(r) for r in rows])), list(names)

    user_rows, user_names = feature_lists(ub, users, C.USER_ID)
    item_rows, item_names = feature_lists(ib, items, C.ITEM_ID)
    return triples, user_rows, user_names, item_rows, item_names


def lightfm_build(interactions: pd.DataFrame, triples, user_rows, user_names, item_rows, item_names):
    from lightfm.data import Dataset

    ds = Dataset()
    ds.fit(interactions[C.USER_ID].unique(), interactions[C.ITEM_ID].unique(),
           user_features=user_names, item_features=item_names)
    inter, weights = ds.build_interactions(triples)
    known_users = set(ds.mapping()[0])
    known_items = set(ds.mapping()[2])
    uf = ds.build_user_features([r for r in user_rows if r[0] in known_users])
    itf = ds.build_item_features([r for r in item_rows if r[0] in known_items])
    return inter, weights, uf, itf


def bench_matrices(n: int, n_users: int, n_items: int) -> None:
    interactions, users, items = make_shop(n, n_users, n_items)
    (im, uf, itf), t_ours = timed(lambda: ours_build(interactions, users, items), REPEAT)
    ub = FeatureBuilder(USER_SCHEMA, C.USER_ID, FeatureConfig()).fit(users, im.user_index)
    ib = FeatureBuilder(ITEM_SCHEMA, C.ITEM_ID, FeatureConfig()).fit(items, im.item_index)
    inputs, t_prep = timed(lambda: lightfm_inputs(interactions, users, items, ub, ib))
    _, t_lfm = timed(lambda: lightfm_build(interactions, *inputs), REPEAT)
    print(f"(a) matrices  n={n:>11,} users={n_users:,} items={n_items:,} (best of {REPEAT}): ours {t_ours:7.2f} s | "
          f"lightfm Dataset {t_lfm:7.2f} s (+{t_prep:.1f} s preparing its Python lists, not counted) | "
          f"speed-up {t_lfm / t_ours:5.1f}x | nnz {im.matrix.nnz:,}, user feats {uf.shape[1]:,}, item feats {itf.shape[1]:,}",
          flush=True)
    del inputs
    gc.collect()


# ---------------------------------------------------------------------------------------------
# (b) training and (c) scoring
# ---------------------------------------------------------------------------------------------


def bench_train_and_score(n: int, n_users: int, n_items: int, epochs: int, threads: int, sample_users: int) -> None:
    from lightfm import LightFM

    interactions, users, items = make_shop(n, n_users, n_items)
    cfg = ModelConfig(epochs=epochs, num_threads=threads, no_components=32, early_stopping_patience=0)
    im = build_interactions(interactions)
    train, weights = training_data(im.matrix, "warp")
    t_ours = t_loop = t_bare = np.inf
    for _ in range(REPEAT_TRAIN):  # interleaved, best of each: the machine may be shared
        model, t = timed(lambda: HybridRecommender(cfg).fit(interactions, users, USER_SCHEMA, items, ITEM_SCHEMA))
        t_ours, t_loop = min(t_ours, t), min(t_loop, model.epochs_[-1]["seconds"])
        uf = model.user_features_[: model.n_warm_users_]
        itf = model.item_features_[: model.n_warm_items_]
        bare = LightFM(no_components=32, loss="warp", learning_rate=cfg.learning_rate, random_state=cfg.random_state)
        _, t = timed(lambda: bare.fit(train, user_features=uf, item_features=itf, sample_weight=weights,
                                      epochs=epochs, num_threads=threads))
        t_bare = min(t_bare, t)
    loop_seconds = t_loop
    print(f"(b) training  n={n:>11,} (best of {REPEAT_TRAIN}, interleaved): ours (from DataFrames, incl. matrices) {t_ours:7.2f} s, "
          f"of which the epoch loop {loop_seconds:7.2f} s | bare LightFM.fit {t_bare:7.2f} s | ratio whole "
          f"{t_ours / t_bare:4.2f}x, loop {loop_seconds / t_bare:4.2f}x ({epochs} epochs, {threads} threads)", flush=True)

    all_users = model.user_index_.ids[: model.n_warm_users_]
    reco, t_all = timed(lambda: model.recommend(all_users, k=10), REPEAT_TRAIN)
    seen = model.seen_.tocsr()[: model.n_warm_users_]
    # references, from the bare model's own representations (computed outside the timers, as ours are cached)
    ub, uv = bare.get_user_representations(uf)
    ib, iv = bare.get_item_representations(itf)
    (_, numpy_items), t_numpy = timed(lambda: numpy_top_k(uv, ub, iv, ib, seen, 10), REPEAT_TRAIN)
    rng = np.random.default_rng(0)
    sample = rng.choice(model.n_warm_users_, min(sample_users, model.n_warm_users_), replace=False)
    items_idx = np.arange(model.n_warm_items_, dtype=np.int32)

    def loop() -> None:
        for u in sample:  # the per-user loop being benchmarked against, one thread (no OpenMP start-up)
            scores = bare.predict(np.full(len(items_idx), u, dtype=np.int32), items_idx,
                                  user_features=uf, item_features=itf, num_threads=1)
            scores[seen.indices[seen.indptr[u]:seen.indptr[u + 1]]] = -np.inf
            top = np.argpartition(-scores, 10)[:10]
            top[np.argsort(-scores[top])]

    _, t_sample = timed(loop)
    t_loop = t_sample / len(sample) * len(all_users)
    print(f"(c) top-10    n={n:>11,}: all {len(all_users):,} users, best of {REPEAT_TRAIN}, same run | "
          f"ours recommend {t_all:7.2f} s ({len(reco):,} rows, DataFrame of ids) | "
          f"numpy chunked top-k {t_numpy:7.2f} s (index arrays) | "
          f"1-thread predict loop {t_loop:8.1f} s (timed on {len(sample):,} users: {t_sample:.2f} s, extrapolated) | "
          f"ours / numpy {t_all / t_numpy:4.2f}x, loop / ours {t_loop / t_all:6.1f}x", flush=True)


def numpy_top_k(uv: np.ndarray, ub: np.ndarray, iv: np.ndarray, ib: np.ndarray, seen, k: int,
                cells: int = 1 << 23) -> tuple[np.ndarray, np.ndarray]:
    """The plain-numpy reference for (c): user vectors @ item vectors.T + biases, seen items masked,
    ``argpartition`` per chunk of users (chunks of ``cells`` scores, as ``recommend``); (user rows,
    top-k item columns best first)."""
    uv, iv = np.ascontiguousarray(uv, np.float32), np.ascontiguousarray(iv, np.float32)
    chunk = max(1, cells // iv.shape[0])
    tops = []
    for lo in range(0, uv.shape[0], chunk):
        scores = uv[lo:lo + chunk] @ iv.T
        scores += ib[None, :]
        scores += ub[lo:lo + chunk, None]
        block = seen[lo:lo + chunk].tocoo()
        scores[block.row, block.col] = -np.inf
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1)
        tops.append(np.take_along_axis(part, order, axis=1))
    return np.arange(uv.shape[0]), np.concatenate(tops)


# ---------------------------------------------------------------------------------------------
# (d) shop scale
# ---------------------------------------------------------------------------------------------


def bench_big(n: int, n_users: int, n_items: int, epochs: int, threads: int) -> None:
    print(f"(d) big: {n:,} interactions, {n_users:,} users, {n_items:,} items, {epochs} epochs, {threads} threads", flush=True)
    (interactions, users, items), t_gen = timed(lambda: make_shop(n, n_users, n_items))
    print(f"    data generated in {t_gen:.1f} s; peak RSS so far {peak_rss_gb():.2f} GB", flush=True)
    cfg = ModelConfig(epochs=epochs, num_threads=threads, no_components=32, early_stopping_patience=0)
    t0 = time.perf_counter()
    model = HybridRecommender(cfg).fit(
        interactions, users, USER_SCHEMA, items, ITEM_SCHEMA,
        on_epoch=lambda r: print(f"    epoch {r['epoch']}: {r['seconds']:.1f} s", flush=True),
    )
    t_fit = time.perf_counter() - t0
    print(f"    fit {t_fit:.1f} s (epoch loop {model.epochs_[-1]['seconds']:.1f} s); peak RSS {peak_rss_gb():.2f} GB", flush=True)
    reco, t_score = timed(lambda: model.recommend(model.user_index_.ids, k=10))
    print(f"    top-10 for all {len(model.user_index_):,} users: {t_score:.1f} s ({len(reco):,} rows)", flush=True)
    print(f"(d) total train + score-all {t_fit + t_score:.1f} s; peak RSS {peak_rss_gb():.2f} GB", flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000_000], help="numbers of interactions for (a)-(c)")
    p.add_argument("--users-per-interaction", type=float, default=0.1, help="users = this x interactions")
    p.add_argument("--items", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sample-users", type=int, default=2000, help="users timed in the one-thread per-user predict loop of (c)")
    p.add_argument("--only", choices=["a", "bc"], help="run only (a) or only (b)+(c)")
    p.add_argument("--repeat", type=int, default=3, help="(a): best of this many runs")
    p.add_argument("--big", action="store_true", help="run (d) instead: 10M interactions, 1M users, 2k items")
    p.add_argument("--big-interactions", type=int, default=10_000_000)
    p.add_argument("--big-users", type=int, default=1_000_000)
    args = p.parse_args(argv)
    global REPEAT, REPEAT_TRAIN
    REPEAT = max(1, args.repeat)
    REPEAT_TRAIN = max(1, min(2, args.repeat))
    print(f"numpy {np.__version__}, pandas {pd.__version__}; {args.threads} threads", flush=True)
    if args.big:
        bench_big(args.big_interactions, args.big_users, args.items, args.epochs, args.threads)
        return
    for n in args.sizes:
        n_users = max(10, int(n * args.users_per_interaction))
        if args.only in (None, "a"):
            bench_matrices(n, n_users, args.items)
        if args.only in (None, "bc"):
            bench_train_and_score(n, n_users, args.items, args.epochs, args.threads, args.sample_users)


if __name__ == "__main__":
    main()
