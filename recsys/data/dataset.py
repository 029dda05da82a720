"""The dataset containers: what an import produces and what the workspace keeps.

* :class:`PreparedDataset` (with its :class:`SourceInfo`) is the clean, canonical result of
  :func:`~recsys.data.prepare.prepare_dataset`, before it is stored.
* :class:`DatasetInfo` is one catalogue row of a stored dataset; :class:`Dataset` its tables as
  loaded from the workspace (:meth:`recsys.workspace.store.Workspace.load_dataset`).
* :func:`customer_ids` is *the* answer to "every customer of a dataset", in one documented order.

>>> users = pd.DataFrame({"user_id": ["u2", "u1"]})
>>> interactions = pd.DataFrame({"user_id": ["u3", "u1", "u4", "u3"]})
>>> customer_ids(users, interactions).tolist()
['u2', 'u1', 'u3', 'u4']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.data.schema import TableSchema
from recsys.data.validate import CleaningReport, Problem


def customer_ids(users: pd.DataFrame, interactions: pd.DataFrame) -> pd.Index:
    """Every customer of a dataset, as text: the users table's ids, then ids seen only in interactions.

    Each part keeps its order of first appearance; missing ids are left out. Vectorised: each table
    is reduced to its distinct ids before they are joined.

    Returns
    -------
    pd.Index
        Distinct ids (object dtype, named ``user_id``).
    """
    parts = [pd.Series(pd.unique(frame[C.USER_ID].dropna())).astype(str)
             for frame in (users, interactions) if C.USER_ID in frame.columns]
    ids = pd.unique(pd.concat(parts, ignore_index=True).to_numpy(object)) if parts else np.array([], dtype=object)
    return pd.Index(ids, dtype=object, name=C.USER_ID)


@dataclass
class SourceInfo:
    """One file that went into a dataset."""

    table: str
    name: str
    sha256: str
    bytes: int
    rows: int

    def to_dict(self) -> dict[str, object]:
        return {"table": self.table, "name": self.name, "sha256": self.sha256, "bytes": self.bytes, "rows": self.rows}


@dataclass
class PreparedDataset:
    """A clean, canonical dataset ready for the workspace.

    Attributes
    ----------
    interactions
        Exactly :data:`recsys.core.columns.INTERACTION_COLUMNS`: ``user_id``/``item_id`` text, ``event``
        text, ``timestamp`` datetime64[ns] (NaT everywhere when the file has no time column),
        ``weight`` float64, ``value`` float64 (NaN when unknown).
    users, items
        The id column + feature columns (from the users/items file and/or facts taken from the
        interactions file). Empty (id column only) when there are none. Direct identifiers stay in
        these frames but are typed IDENTIFIER: never features, never exported.
    user_schema, item_schema
        Typed feature columns.
    mapping
        table -> canonical column -> the user's column.
    report
        What cleaning did, with counts.
    warnings
        Non-blocking problems.
    sources
        The files read.
    identifiers
        table -> column -> why it is a direct identifier.
    fingerprint
        sha256 over the source hashes, the mapping and the options (stable across runs).
    """

    interactions: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame
    user_schema: TableSchema
    item_schema: TableSchema
    mapping: dict[str, dict[str, str]]
    report: CleaningReport
    warnings: list[Problem]
    sources: list[SourceInfo]
    identifiers: dict[str, dict[str, str]]
    fingerprint: str
    user_facts: tuple[str, ...] = ()
    item_facts: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetInfo:
    """One catalogue row of the datasets table."""

    id: str
    name: str
    created_at: datetime
    fingerprint: str
    sources: list[dict[str, Any]]
    mapping: dict[str, dict[str, str]]
    report: dict[str, Any]
    warnings: list[dict[str, Any]]
    identifiers: dict[str, dict[str, str]]
    user_schema: TableSchema
    item_schema: TableSchema
    n_interactions: int
    n_users: int
    n_items: int
    is_sample: bool
    #: Number of appends so far (0 right after import).
    version: int = 0
    #: The fingerprint right after import (``fingerprint`` changes with every append).
    base_fingerprint: str = ""
    #: The import options that decide what a file means (see ``mapping.ImportOptions.fingerprint_dict``);
    #: empty for datasets imported before appends existed.
    import_options: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        from recsys.core.i18n import format_number
        from recsys.core.i18n import gettext as _

        appends = (_(", {n} append") if self.version == 1 else _(", {n} appends")).format(n=self.version) \
            if self.version else ""
        return _("{name} ({id}: {n} interactions{appends})").format(
            name=self.name, id=self.id, n=format_number(self.n_interactions), appends=appends)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "created_at": self.created_at.isoformat(),
            "fingerprint": self.fingerprint, "sources": self.sources, "mapping": self.mapping,
            "report": self.report, "warnings": self.warnings, "identifiers": self.identifiers,
            "user_schema": self.user_schema.to_list(), "item_schema": self.item_schema.to_list(),
            "n_interactions": self.n_interactions, "n_users": self.n_users,
            "n_items": self.n_items, "is_sample": self.is_sample, "version": self.version,
            "base_fingerprint": self.base_fingerprint or self.fingerprint,
        }


@dataclass(frozen=True)
class Dataset:
    """A dataset's tables, as loaded from the workspace."""

    info: DatasetInfo
    interactions: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame

    def customer_ids(self) -> pd.Index:
        """Every customer of the dataset, in the order of :func:`customer_ids`."""
        return customer_ids(self.users, self.interactions)


__all__ = ["SourceInfo", "PreparedDataset", "DatasetInfo", "Dataset", "customer_ids"]
