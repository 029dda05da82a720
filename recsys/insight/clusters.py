"""Behavioural clusters of the model's customers, and a 2-D map of them.

:func:`behaviour_vectors` turns the model's customer embeddings into two balanced views (their
facts and their own history), :func:`suggest_k` picks the number of clusters by the silhouette
score on a seeded sample, :func:`cluster_users` runs k-means (fitted on a sample, every customer
assigned) and :func:`embedding_map` projects the same vectors to 2-D (PCA, or t-SNE on a sample)
for the map on which a marketer draws a segment (:func:`selected_user_ids`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from recsys.core import columns as C
from recsys.core.i18n import gettext as _
from recsys.insight.segments import Segmentation, sample_rows

X, Y = "x", "y"
DEFAULT_K_RANGE: tuple[int, ...] = tuple(range(3, 11))
#: scikit-learn's OpenMP threads per fit. One: on a shared machine two busy threads made k-means
#: 50x and t-SNE 3x slower than one (measured), and the app serves several people at once.
SKLEARN_THREADS = 1
TSNE_MAX_ITER = 500


@dataclass(frozen=True)
class ClusterResult:
    """k-means clusters of the model's customers.

    Attributes
    ----------
    segmentation
        Labels ``"cluster 1"`` (largest) ... ``"cluster k"``.
    k, suggested_k
        The number of clusters used and the one the silhouette score suggested.
    silhouette
        ``k``, ``silhouette`` for every k tried (empty when k was given and not searched).
    vectors
        The (scaled) vectors that were clustered, one row per customer of ``segmentation.labels``.
    """

    segmentation: Segmentation
    k: int
    suggested_k: int | None
    silhouette: pd.DataFrame
    vectors: np.ndarray = field(repr=False)


def behaviour_vectors(model: Any, user_ids: Iterable[Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(user ids, vectors) to cluster: the model's customer embeddings, in two balanced views.

    LightFM represents a customer as the sum of the embeddings of their facts (segment, region,
    ...) and of their own identity (learnt from their history alone). The identity part is
    mostly personal taste and, on shop data, carries most of the variance (70% on the sample
    shop), so k-means on the raw sum groups people by idiosyncrasies. Each view is therefore
    centred and scaled to unit root-mean-square norm and the two are concatenated, so both weigh
    the same. A model with only one view (no side features, or no identity features) gives that
    view alone.
    """
    index = model.user_index_
    ids = np.asarray(index.ids, dtype=object)
    if user_ids is not None:
        pos = index.positions(list(user_ids))
        ids = ids[pos[pos >= 0]]
    else:
        pos = np.arange(len(ids))
    pos = pos[pos >= 0]
    feats = model.user_features_[pos]
    emb = np.asarray(model.user_embeddings_, dtype=np.float64)
    is_identity = np.asarray(model.user_feature_index_.kinds, dtype=object) == "identity"
    views = []
    for mask in (is_identity, ~is_identity):
        if not mask.any():
            continue
        part = np.asarray(feats[:, mask] @ emb[mask], dtype=np.float64)
        part -= part.mean(axis=0)
        rms = float(np.sqrt((part**2).sum(axis=1).mean()))
        if rms > 0:
            views.append(part / rms)
    if not views:
        _, vectors = model.user_representations(ids)
        views = [np.asarray(vectors, dtype=np.float64) - np.asarray(vectors).mean(axis=0)]
    return ids, np.hstack(views)


def suggest_k(
    vectors: np.ndarray, k_range: Sequence[int] = DEFAULT_K_RANGE, *, sample_size: int = 4000, seed: int = 0,
) -> tuple[int, pd.DataFrame]:
    """The k of ``k_range`` with the highest mean silhouette score on a seeded sample.

    Returns the chosen k and a frame ``k``, ``silhouette`` of every k tried. The silhouette of a
    point is ``(b - a) / max(a, b)`` with ``a`` its mean distance to its own cluster and ``b`` to
    the nearest other cluster; higher means better separated clusters. k starts at 3 by default
    because silhouette favours a two-way split on noisy data and two groups are rarely a
    segmentation a marketer can act on.
    """
    suggested, table, _ = search_k(vectors, k_range, sample_size=sample_size, seed=seed)
    return suggested, table


def search_k(
    vectors: np.ndarray, k_range: Sequence[int] = DEFAULT_K_RANGE, *, sample_size: int = 4000, seed: int = 0,
) -> tuple[int, pd.DataFrame, Any]:
    """:func:`suggest_k` and the k-means fitted for the suggested k on the sample (which
    :func:`cluster_users` reuses when the sample is every customer: the same fit it would repeat)."""
    sample = np.asarray(vectors[sample_rows(len(vectors), sample_size, seed)], dtype=np.float64)
    ks = [int(k) for k in k_range if 2 <= int(k) < len(sample)]
    if not ks:
        raise ValueError(f"too few customers ({len(sample)}) to try {list(k_range)} clusters")
    with threadpool_limits(SKLEARN_THREADS):
        fits = [kmeans(sample, k, seed) for k in ks]  # a handful of k
        scores = silhouette_scores(sample, [fit.labels_ for fit in fits])
    table = pd.DataFrame({"k": ks, "silhouette": scores})
    best = int(table["silhouette"].idxmax())
    return ks[best], table, fits[best]


def kmeans(vectors: np.ndarray, k: int, seed: int) -> Any:
    """scikit-learn's k-means (4 seeded k-means++ starts) fitted on ``vectors`` in single precision.

    Single precision halves the work of every distance (0.53 s -> 0.34 s for 8 values of k on the
    sample shop's 4,000 x 64 vectors); the labels it gave there were those of double precision for
    every k (checked by a test). The silhouette scores are computed in double precision.
    """
    from sklearn.cluster import KMeans

    return KMeans(k, n_init=4, random_state=seed).fit(np.asarray(vectors, dtype=np.float32))


def silhouette_scores(vectors: np.ndarray, labellings: Sequence[np.ndarray], block: int = 512) -> list[float]:
    """The mean silhouette score (Euclidean) of each labelling of the same ``vectors``; -1.0 for one with a
    single cluster.

    Equal to scikit-learn's ``silhouette_score`` for each labelling (the same formula: squared norms
    minus twice the dot product, clipped at 0, zero on the diagonal; a customer alone in its cluster
    scores 0), but the customer x customer distances are computed once, in blocks of ``block`` rows,
    for every labelling together: each block's distance sums to every cluster of every labelling are one
    matrix product. Trying 8 values of k on 4,000 customers took 2.3 s with one ``silhouette_score`` per
    k (8 distance matrices) and takes about 0.2 s this way; memory stays at ``block`` x customers.
    """
    x = np.asarray(vectors, dtype=np.float64)
    n = len(x)
    codes = [np.unique(np.asarray(labels), return_inverse=True)[1].reshape(-1) for labels in labellings]
    widths = [int(c.max()) + 1 if n else 0 for c in codes]
    starts = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
    member = np.zeros((n, int(starts[-1])), dtype=np.float64)  # one column per cluster of every labelling
    for c, start in zip(codes, starts[:-1]):
        member[np.arange(n), start + c] = 1.0
    squared = np.einsum("ij,ij->i", x, x)
    sums = np.empty_like(member)  # distance of each customer to all members of each cluster
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        d = squared[lo:hi, None] - 2.0 * (x[lo:hi] @ x.T) + squared[None, :]
        np.maximum(d, 0.0, out=d)
        d[np.arange(hi - lo), np.arange(lo, hi)] = 0.0
        np.sqrt(d, out=d)
        sums[lo:hi] = d @ member
    scores = []
    rows = np.arange(n)
    for c, width, start in zip(codes, widths, starts[:-1]):
        if width < 2:
            scores.append(-1.0)
            continue
        counts = np.bincount(c, minlength=width).astype(np.float64)
        to_cluster = sums[:, start:start + width]
        with np.errstate(divide="ignore", invalid="ignore"):
            a = to_cluster[rows, c] / (counts[c] - 1.0)
            others = to_cluster / counts
            others[rows, c] = np.inf
            b = others.min(axis=1)
            s = np.nan_to_num((b - a) / np.maximum(a, b))
        scores.append(float(s.mean()))
    return scores


def cluster_users(
    model: Any,
    k: int | None = None,
    *,
    k_range: Sequence[int] = DEFAULT_K_RANGE,
    seed: int = 0,
    sample_size: int = 4000,
    fit_size: int = 50_000,
    suggestion: tuple[int, pd.DataFrame] | None = None,
) -> ClusterResult:
    """Behavioural clusters: k-means on the model's customer embeddings (see :func:`behaviour_vectors`).

    Parameters
    ----------
    model
        A fitted ``HybridRecommender`` (every customer it knows is clustered).
    k
        Number of clusters; default: the silhouette suggestion over ``k_range``.
    seed
        Seed of the samples and of k-means.
    sample_size
        Customers sampled to compute silhouette scores.
    fit_size
        k-means is fitted on at most this many customers (seeded sample), then every customer is
        assigned to the nearest centre: bounded time at millions of customers.
    suggestion
        ``(k, silhouette table)`` of :func:`suggest_k` for this model, ``k_range``, ``sample_size`` and
        ``seed`` when the caller kept it (:mod:`recsys.workspace.segments` keeps it per run): the search
        is then skipped.
    """
    ids, vectors = behaviour_vectors(model)
    suggested, table = None, pd.DataFrame(columns=["k", "silhouette"])
    fitted = None
    if k is None and suggestion is not None:
        suggested, table = int(suggestion[0]), suggestion[1]
        k = suggested
    elif k is None:
        suggested, table, fitted = search_k(vectors, k_range, sample_size=sample_size, seed=seed)
        k = suggested
    if not 1 <= int(k) <= len(vectors):
        raise ValueError(f"the number of clusters must be between 1 and the number of customers ({len(vectors)}), got {k}")
    k = int(k)
    fit_rows = sample_rows(len(vectors), fit_size, seed)
    if fitted is not None and len(fit_rows) != len(sample_rows(len(vectors), sample_size, seed)):
        fitted = None  # the search saw another sample than the one fitted here
    with threadpool_limits(SKLEARN_THREADS):
        km = fitted if fitted is not None else kmeans(vectors[fit_rows], k, seed)
        raw = km.predict(np.asarray(vectors, dtype=np.float32))
    sizes = np.bincount(raw, minlength=k)
    rank = np.empty(k, dtype=np.int64)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(k)  # cluster 1 = the largest
    names = np.array([f"cluster {i + 1}" for i in range(k)], dtype=object)
    labels = pd.Series(names[rank[raw]], index=pd.Index(ids.astype(str), name=C.USER_ID))
    definition = {"kind": "clusters", "k": k, "suggested_k": suggested, "seed": seed,
                  "representation": "balanced facts + history views of the model's customer embeddings"}
    segmentation = Segmentation.from_labels(labels, "clusters", definition, order=list(names))
    return ClusterResult(segmentation, k, suggested, table, vectors)


# =================================================================================================
# 2-D map of the embeddings
# =================================================================================================
@dataclass(frozen=True)
class EmbeddingMap:
    """2-D coordinates of a sample of the model's customers.

    ``frame`` has ``user_id``, ``x``, ``y``; ``n_total`` customers exist, ``len(frame)`` are drawn.
    """

    frame: pd.DataFrame
    n_total: int
    method: str
    note: str


MAP_METHODS = ("pca", "tsne")


def embedding_map(
    model: Any, *, method: str = "pca", sample_size: int = 5000, seed: int = 0,
) -> EmbeddingMap:
    """Project the customer vectors that :func:`cluster_users` uses to 2-D for a map.

    PCA is fitted on every customer (fast) and a seeded sample of ``sample_size`` is returned for
    drawing; t-SNE (slower, keeps neighbours together) runs on the sample only.
    """
    if method not in MAP_METHODS:
        raise ValueError(f"method must be one of {MAP_METHODS}, got {method!r}")
    ids, vectors = behaviour_vectors(model)
    rows = sample_rows(len(ids), sample_size, seed)
    if method == "pca":
        from sklearn.decomposition import PCA

        n_comp = min(2, vectors.shape[1], len(vectors))
        with threadpool_limits(SKLEARN_THREADS):
            pca = PCA(n_components=n_comp, random_state=seed).fit(vectors)
            xy = pca.transform(vectors[rows])
        explained = float(pca.explained_variance_ratio_.sum())
        note = _("PCA of the customer embeddings ({share} of their variance shown).").format(share=f"{explained:.0%}")
    else:
        from sklearn.manifold import TSNE

        sample = vectors[rows]
        perplexity = float(min(30.0, max(2.0, (len(sample) - 1) / 3)))
        with threadpool_limits(SKLEARN_THREADS):
            xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                      max_iter=TSNE_MAX_ITER).fit_transform(sample)
        note = "t-SNE of the customer embeddings: near points are similar customers; distances between far groups mean little."
    if xy.shape[1] < 2:
        xy = np.c_[xy, np.zeros(len(xy))]
    if len(rows) < len(ids):
        note += f" Showing a random sample of {len(rows):,} of {len(ids):,} customers."
    frame = pd.DataFrame({C.USER_ID: ids[rows].astype(str), X: xy[:, 0], Y: xy[:, 1]})
    return EmbeddingMap(frame, len(ids), method, note)


def selected_user_ids(points: Iterable[dict[str, Any]]) -> list[str]:
    """User ids of the points of a Plotly selection event (their first ``customdata`` value)."""
    ids = []
    for point in points:  # the points a person selected on screen
        custom = point.get("customdata")
        if isinstance(custom, (list, tuple)) and custom:
            ids.append(str(custom[0]))
        elif custom is not None and not isinstance(custom, (list, tuple)):
            ids.append(str(custom))
    return list(dict.fromkeys(ids))


__all__ = [
    "ClusterResult", "EmbeddingMap", "behaviour_vectors", "silhouette_scores", "suggest_k", "search_k", "kmeans", "cluster_users", "embedding_map",
    "selected_user_ids", "DEFAULT_K_RANGE", "MAP_METHODS", "SKLEARN_THREADS", "TSNE_MAX_ITER", "X", "Y",
]
