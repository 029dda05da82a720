"""Users and items tables -> LightFM feature matrices, one column per readable feature.

:class:`FeatureBuilder` turns a side table into a feature matrix ("segment = bargain hunter",
"discount_depth 30–50"), vectorised over whole columns. Per-column encoders (categories, quantile
bin edges, tag lists, keyword vocabularies; see :mod:`recsys.learn.encoders`) are learned on the
training entities only and then applied to any row, so held-out rows never shape the features.
Interactions become a matrix in :mod:`recsys.learn.interactions`.

>>> import pandas as pd
>>> from recsys.data.schema import ColumnKind, ColumnSpec, TableSchema
>>> users = pd.DataFrame({"user_id": ["a", "b"], "segment": ["x", "y"]})
>>> schema = TableSchema((ColumnSpec("segment", ColumnKind.CATEGORICAL),))
>>> fb = FeatureBuilder(schema, "user_id").fit(users, IdIndex.from_values(users["user_id"]))
>>> list(fb.feature_index_.names)
["this customer's own history (a)", "this customer's own history (b)", 'segment = x', 'segment = y']
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from recsys.core import columns as C
from recsys.core.arrays import repeated
from recsys.core.codes import codes_of, positions_in
from recsys.core.words import ITEM_IDENTITY_SOURCE, USER_IDENTITY_SOURCE
from recsys.data.schema import ColumnKind, TableSchema
from recsys.learn.config import FeatureConfig
from recsys.learn.encoders import Encoder, FeatureIndex, make_encoder
from recsys.learn.interactions import IdIndex, arrow_strings

# The kind of the identity features (named USER_IDENTITY_SOURCE / ITEM_IDENTITY_SOURCE) in FeatureIndex.kinds.
IDENTITY_KIND = "identity"


class FeatureBuilder:
    """Turns a users or items table into a LightFM feature matrix.

    Parameters
    ----------
    schema
        Typed feature columns of the table (``None``: no side features).
    key
        The id column (``columns.USER_ID`` or ``columns.ITEM_ID``).
    config
        :class:`FeatureConfig`.
    reference_time
        "Now" for the recency bins of date columns (the pipeline passes the end of training);
        defaults to the latest date of each column in the training rows.

    Notes
    -----
    Columns of the matrix: one identity feature per id of ``warm_ids`` (when identity features
    are on), then every side feature. ``fit`` learns encoders on the table rows whose id is in
    ``warm_ids`` only (the training entities), so held-out rows never shape categories, bin edges
    or vocabularies. Feature weights: 1 for the identity feature and for a single-valued column's
    feature; a multi-valued column (tags, text) with ``m`` values in a row gives each ``1 / m``.
    With ``normalize``, every row is then scaled to sum to 1: ``x_ij <- x_ij / sum_j x_ij``.
    """

    def __init__(
        self,
        schema: TableSchema | None,
        key: str,
        config: FeatureConfig | None = None,
        reference_time: pd.Timestamp | None = None,
    ) -> None:
        self.schema = schema
        self.key = key
        self.config = config
        self.reference_time = reference_time

    # -- fit / transform ---------------------------------------------------------------------

    @property
    def identity_source(self) -> str:
        return USER_IDENTITY_SOURCE if self.key == C.USER_ID else ITEM_IDENTITY_SOURCE

    def _identity_on(self, cfg: FeatureConfig) -> bool:
        return cfg.user_identity if self.key == C.USER_ID else cfg.item_identity

    def fit(self, table: pd.DataFrame | None, warm_ids: IdIndex) -> "FeatureBuilder":
        """Learn the encoders from the rows of ``table`` whose id is in ``warm_ids``."""
        cfg = self.config or FeatureConfig()
        cfg.validate()
        self.config_ = cfg
        self.identity_index_ = warm_ids if self._identity_on(cfg) else IdIndex([])
        self.encoders_: list[Encoder] = []
        columns = self._feature_columns(table, cfg)
        if columns:
            assert table is not None
            rows = self._check_table(table)
            warm = warm_ids.positions(rows)
            train_rows = table if (warm >= 0).all() else table.iloc[np.flatnonzero(warm >= 0)]
            ref = None if self.reference_time is None else pd.Timestamp(self.reference_time)
            kinds = self.schema.kinds() if self.schema else {}
            for col in columns:  # a loop over columns, not rows
                enc = make_encoder(col, kinds[col], ref)
                if enc is not None:
                    self.encoders_.append(enc.fit(train_rows[col], cfg))
        self._finish_fit()
        return self

    def _finish_fit(self) -> None:
        self.sizes_ = [len(e.labels()) for e in self.encoders_]
        self.n_features_ = len(self.identity_index_) + sum(self.sizes_)
        self._feature_index: FeatureIndex | None = None

    @property
    def feature_index_(self) -> FeatureIndex:
        """What every column of the feature matrix means, made on first need (explanations, clusters).

        Not at fit: with identity features it holds a readable name per customer ("user (C001)"), which
        a training never reads (1M customers: about 0.4 s and 1M Python strings).
        """
        self._check_fitted()
        if self._feature_index is None:  # two threads may both make it: the same value either way
            parts = [self._identity_feature_index()] + [e.index() for e in self.encoders_]
            self._feature_index = FeatureIndex.concat(parts)
        return self._feature_index

    def grow(self, table: pd.DataFrame | None, new_identity_ids: Iterable[Any]) -> np.ndarray:
        """Add features for new ids and new column values; return where the old features went.

        ``new_identity_ids`` get identity features (when identity features are on), appended after
        the known ones; new values found in ``table`` (e.g. the rows of new or updated customers)
        are appended to the end of their column's block. Nothing known moves within its block and
        nothing is removed, so an old feature matrix maps onto the new columns by the returned
        array: ``old_to_new[j]`` is the new column of old column ``j``.
        """
        self._check_fitted()
        cfg = self.config_
        old_n_id, old_sizes = len(self.identity_index_), list(self.sizes_)
        if self._identity_on(cfg):
            self.identity_index_ = self.identity_index_.extend(pd.Series(list(new_identity_ids), dtype=object).astype(str))
        if table is not None and len(table):
            for enc in self.encoders_:  # a loop over columns, not rows
                if enc.column in table.columns:
                    enc.grow(table[enc.column], cfg)
        self._finish_fit()
        old_to_new = [np.arange(old_n_id)]
        old_off, new_off = old_n_id, len(self.identity_index_)
        for old_size, new_size in zip(old_sizes, self.sizes_):
            old_to_new.append(new_off + np.arange(old_size))
            old_off, new_off = old_off + old_size, new_off + new_size
        return np.concatenate(old_to_new).astype(np.int64)

    def _identity_feature_index(self) -> FeatureIndex:
        ids = self.identity_index_.ids
        n = len(ids)
        src = self.identity_source
        names = np.zeros(0, object)
        if n:  # "source (id)" joined by Arrow, in C
            coded = self.identity_index_.codes
            text = coded.vocabulary.take(pa.array(coded.codes)) if coded is not None else \
                pa.array(pd.Series(ids, dtype=object).astype(str).to_numpy(object), type=pa.string())
            names = np.asarray(pc.binary_join_element_wise(src + " (", text, ")", "").to_numpy(zero_copy_only=False), dtype=object)
        return FeatureIndex(names, repeated(src, n), ids.astype(object), repeated(IDENTITY_KIND, n))

    def _feature_columns(self, table: pd.DataFrame | None, cfg: FeatureConfig) -> list[str]:
        if not cfg.use_side_features or self.schema is None or table is None:
            return []
        cols = self.schema.feature_columns(include_sensitive=cfg.include_sensitive)
        missing = [c for c in cols if c not in table.columns]
        if missing:
            raise ValueError(
                f"the {self.key.split('_')[0]}s table has no column {missing[0]!r} although the schema "
                f"lists it; found {list(table.columns)}"
            )
        return [c for c in cols if c != self.key]

    def _check_table(self, table: pd.DataFrame) -> pd.Index | pd.Series:
        """The table's ids, checked unique: the coded column itself, else a text index."""
        if self.key not in table.columns:
            raise ValueError(f"the table needs a {self.key!r} column; found {list(table.columns)}")
        coded = codes_of(table[self.key])
        if coded is not None and coded.is_unique():
            return table[self.key]
        ids = pd.Index(table[self.key]).astype(str)
        arrow = arrow_strings(ids)  # Arrow's hash table is several times faster than pandas' on text
        unique = ids.is_unique if arrow is None else pc.count_distinct(arrow, mode="all").as_py() == len(arrow)
        if not unique:
            dup = ids[ids.duplicated()][:3].tolist()
            raise ValueError(f"column {self.key!r} has duplicated ids, e.g. {dup}: keep one row per id")
        return ids

    def transform(self, table: pd.DataFrame | None, ids: Iterable[Any] | IdIndex) -> sp.csr_matrix:
        """Feature matrix with one row per id of ``ids`` (in that order; an :class:`IdIndex` is looked up
        by its codes when it and the table's ids are coded alike).

        Ids without a table row get only their identity feature (if any); ids not seen in
        training get no identity feature, so they are described by their features alone.
        """
        self._check_fitted()
        given = ids if isinstance(ids, IdIndex) else None  # an index: its ids, looked up by code when it has them
        if given is not None:
            ids = given.ids
        same_ids = ids is self.identity_index_.ids  # the usual call: rows = the fitted ids, no lookup needed
        ids = pd.Series(list(ids) if not isinstance(ids, (pd.Series, np.ndarray, pd.Index)) else ids, dtype=object)
        if not same_ids and given is None:
            ids = ids.astype(str)
        n = len(ids)
        blocks_r, blocks_c, blocks_d = [], [], []
        offset = 0
        n_id = len(self.identity_index_)
        if n_id:
            pos = np.arange(n_id, dtype=np.int64) if same_ids else \
                self.identity_index_.lookup(given) if given is not None else self.identity_index_.positions(ids)
            r = np.flatnonzero(pos >= 0)
            blocks_r.append(r)
            blocks_c.append(pos[r])
            blocks_d.append(np.ones(len(r)))
        offset += n_id
        if self.encoders_ and table is not None:
            table_ids = self._check_table(table)
            looked_up = self.identity_index_.index if same_ids else given.index if given is not None else ids
            row_of = None
            table_codes = codes_of(table_ids)
            id_codes = self.identity_index_.codes if same_ids else given.codes if given is not None else None
            if table_codes is not None and id_codes is not None:  # both coded: integer arithmetic only
                row_of = positions_in(table_codes, id_codes)
            if row_of is None:
                row_of = IdIndex.from_unique(pd.Index(table_ids)).positions(looked_up)
            have = np.flatnonzero(row_of >= 0)
            in_order = len(have) == len(table) and bool((row_of[have] == np.arange(len(table))).all())
            sub = table.reset_index(drop=True) if in_order else table.iloc[row_of[have]].reset_index(drop=True)
            for enc, size in zip(self.encoders_, self.sizes_):
                if enc.column not in sub.columns:  # rows given at scoring time may lack a column
                    offset += size
                    continue
                r, c, d = enc.transform(sub[enc.column])
                blocks_r.append(have[r])
                blocks_c.append(c + offset)
                blocks_d.append(d)
                offset += size
        else:
            offset += sum(self.sizes_)
        rows = np.concatenate(blocks_r) if blocks_r else np.zeros(0, np.int64)
        cols = np.concatenate(blocks_c) if blocks_c else np.zeros(0, np.int64)
        data = np.concatenate(blocks_d) if blocks_d else np.zeros(0)
        mat = sp.csr_matrix((data.astype(np.float32), (rows, cols)), shape=(n, self.n_features_), dtype=np.float32)
        mat.sum_duplicates()
        if self.config_.normalize:
            mat = _normalize_rows(mat)
        return mat

    def side_features(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        """The columns of ``matrix`` that are not identity features."""
        return matrix[:, len(self.identity_index_):]

    def _check_fitted(self) -> None:
        if not hasattr(self, "sizes_"):
            raise ValueError("FeatureBuilder is not fitted: call fit(table, warm_ids) first")

    # -- persistence (JSON state, no pickle) -----------------------------------------------------

    def state(self) -> dict[str, Any]:
        """JSON-friendly fitted state (the identity ids are stored separately as an array)."""
        self._check_fitted()
        return {
            "key": self.key,
            "config": self.config_.to_dict(),
            "encoders": [
                {"column": e.column, "kind": e.kind, "state": e.state()} for e in self.encoders_
            ],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], identity_ids: np.ndarray, schema: TableSchema | None = None) -> "FeatureBuilder":
        cfg = FeatureConfig.from_dict(state["config"])
        fb = cls(schema, str(state["key"]), cfg)
        fb.config_ = cfg
        fb.identity_index_ = IdIndex(identity_ids)
        fb.encoders_ = []
        for e in state["encoders"]:
            enc = make_encoder(str(e["column"]), ColumnKind(e["kind"]), None)
            if enc is None:
                raise ValueError(f"unknown encoder kind {e['kind']!r} in the model file")
            fb.encoders_.append(enc.load_state(e["state"]))
        fb._finish_fit()
        return fb


def _normalize_rows(mat: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(mat.sum(axis=1)).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ mat, dtype=np.float32)


__all__ = ["FeatureBuilder", "IDENTITY_KIND", "USER_IDENTITY_SOURCE", "ITEM_IDENTITY_SOURCE"]
