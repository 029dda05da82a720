"""A stored dataset's versions: its appends, and its tables as of any version.

The half of :class:`recsys.workspace.store.Workspace` that deals with appends
(:meth:`~AppendsMixin.append_dataset`, :meth:`~AppendsMixin.appends`) and with loading a dataset
as of a version (:meth:`~AppendsMixin.load_dataset`, :meth:`~AppendsMixin.load_appended`); the
workspace's plumbing (connections, staging, ids) and its datasets' catalogue rows stay in ``store``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from recsys.core import columns as C
from recsys.core.jsonio import dumps
from recsys.data.coded import DATASET_CODES, promise_codes, read_coded_tables, write_coded_table
from recsys.data.dataset import Dataset, DatasetInfo
from recsys.workspace.locks import WorkspaceError
from recsys.workspace.records import append_record, concat_batches, info_at, merge_facts, now, rollback

#: Appends of a dataset live in ``datasets/<id>/appends/<seq:04d>/``.
APPENDS_DIR = "appends"


class AppendsMixin:
    """Appends and versions of a :class:`~recsys.workspace.store.Workspace`'s datasets (mixed into it)."""

    def load_dataset(self, dataset_id: str, version: int | None = None) -> Dataset:
        """A dataset's tables as of ``version`` appends (None: the latest).

        Interactions are the imported ones followed by those of appends 1..``version``. Users and
        items: later batches add new ids and change the facts of known ids, column by column:
        the latest non-missing value wins (an empty cell in a batch never erases a known fact).
        ``info`` describes that version (its fingerprint, counts and ``version``).

        Examples
        --------
        >>> ws.load_dataset("d1", version=0).info.version   # doctest: +SKIP
        0
        """
        info = self.dataset(dataset_id)
        version = self._check_version(info, version)
        # ids with integer codes (from the files' dictionaries, or made once when training needs them)
        tables = read_coded_tables({t: self.table_path(dataset_id, t) for t in C.Table}, DATASET_CODES)
        if version == 0:
            info = info_at(info, None, tables)
            return Dataset(info, tables[C.Table.INTERACTIONS], tables[C.Table.USERS], tables[C.Table.ITEMS])
        batches = self._batches(dataset_id, 1, version)
        frames = {
            C.Table.INTERACTIONS: concat_batches([tables[C.Table.INTERACTIONS]] + [b[1][C.Table.INTERACTIONS] for b in batches]),
            C.Table.USERS: merge_facts([tables[C.Table.USERS]] + [b[1][C.Table.USERS] for b in batches], C.USER_ID),
            C.Table.ITEMS: merge_facts([tables[C.Table.ITEMS]] + [b[1][C.Table.ITEMS] for b in batches], C.ITEM_ID),
        }
        promise_codes(frames, DATASET_CODES)
        return Dataset(info_at(info, batches[-1][0], tables), frames[C.Table.INTERACTIONS], frames[C.Table.USERS],
                       frames[C.Table.ITEMS])

    def load_appended(self, dataset_id: str, since_version: int, until_version: int | None = None) -> Dataset:
        """Only what appends ``since_version + 1`` .. ``until_version`` (None: the latest) added.

        Their interactions, and the users / items rows they contain (an id in several of these
        batches gets its latest non-missing facts). ``info`` describes the dataset at
        ``until_version``. Empty tables (with the dataset's columns) when there is nothing new.
        """
        info = self.dataset(dataset_id)
        until = self._check_version(info, until_version)
        since = self._check_version(info, since_version)
        if since > until:
            raise WorkspaceError(
                f"since_version {since} is after until_version {until} for dataset '{dataset_id}'. "
                "Fix: pass since_version <= until_version."
            )
        batches = self._batches(dataset_id, since + 1, until)
        if not batches:
            base = {t: pd.read_parquet(self.table_path(dataset_id, t)) for t in C.Table}
            record = self.appends(dataset_id)[until - 1] if until else None
            empty = {t: frame.iloc[:0] for t, frame in base.items()}
            return Dataset(info_at(info, record, base), empty[C.Table.INTERACTIONS], empty[C.Table.USERS],
                           empty[C.Table.ITEMS])
        return Dataset(
            info_at(info, batches[-1][0], {}),
            concat_batches([b[1][C.Table.INTERACTIONS] for b in batches]),
            merge_facts([b[1][C.Table.USERS] for b in batches], C.USER_ID),
            merge_facts([b[1][C.Table.ITEMS] for b in batches], C.ITEM_ID),
        )

    def _check_version(self, info: DatasetInfo, version: int | None) -> int:
        if version is None:
            return info.version
        if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version <= info.version:
            raise WorkspaceError(
                f"Dataset '{info.id}' has no version {version!r}: it has {info.version} append"
                f"{'s' if info.version != 1 else ''}, so versions 0 to {info.version} exist. "
                "Fix: pick one of those (0 = as imported, None = the latest)."
            )
        return version

    def _batches(
        self, dataset_id: str, first: int, last: int,
    ) -> list[tuple[dict[str, Any], dict[C.Table, pd.DataFrame]]]:
        """The append records and tables of appends ``first`` .. ``last`` (oldest first)."""
        records = [r for r in self.appends(dataset_id) if first <= r["seq"] <= last]
        return [
            (r, {t: pd.read_parquet(self.append_dir(dataset_id, r["seq"]) / f"{t.value}.parquet") for t in C.Table})
            for r in records
        ]

    # ------------------------------------------------------------------ appends
    def append_dir(self, dataset_id: str, seq: int) -> Path:
        return self.dataset_dir(dataset_id) / APPENDS_DIR / f"{seq:04d}"

    def append_dataset(self, dataset_id: str, prepared: Any, name: str) -> dict[str, Any]:
        """Add one prepared batch (see ``ingest.append_files``) to a dataset, atomically.

        The batch's tables go into ``datasets/<id>/appends/<seq>/`` and one ``appends`` row records
        it; the dataset's version goes up by one and its fingerprint changes (sha256 of the previous
        fingerprint and the batch's). A failure leaves the workspace as it was.

        Returns
        -------
        dict
            The append's record (as :meth:`appends` lists it).
        """
        info = self.dataset(dataset_id)
        inter, users, items = prepared.interactions, prepared.users, prepared.items
        known_users, known_items = self._known_ids(dataset_id, self.appends(dataset_id))
        batch_users = pd.Index(pd.concat([inter[C.USER_ID], users[C.USER_ID]]).dropna().unique())
        batch_items = pd.Index(pd.concat([inter[C.ITEM_ID], items[C.ITEM_ID]]).dropna().unique())
        n_new_users = int((~batch_users.isin(known_users)).sum())
        n_new_items = int((~batch_items.isin(known_items)).sum())
        times = inter[C.TIMESTAMP].dropna() if C.TIMESTAMP in inter.columns else pd.Series([], dtype="datetime64[ns]")
        name = (name or "").strip() or "append"
        parent = self.dataset_dir(dataset_id) / APPENDS_DIR
        made_parent = not parent.exists()
        with self._staging("datasets") as tmp:
            for table, frame in ((C.Table.INTERACTIONS, inter), (C.Table.USERS, users), (C.Table.ITEMS, items)):
                write_coded_table(frame, tmp / f"{table.value}.parquet")
            target: Path | None = None
            try:
                with self.connect() as con:
                    con.execute("BEGIN TRANSACTION")
                    try:
                        seq = 1 + int(con.execute(
                            "SELECT coalesce(max(seq), 0) FROM appends WHERE dataset_id = ?", [dataset_id]
                        ).fetchone()[0])
                        previous = info.fingerprint
                        fingerprint = hashlib.sha256(f"{previous}\n{prepared.fingerprint}".encode()).hexdigest()
                        con.execute(
                            "INSERT INTO appends VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                            [
                                dataset_id, seq, now(), name, len(inter), n_new_users, n_new_items,
                                int(users[C.USER_ID].isin(known_users).sum()),
                                int(items[C.ITEM_ID].isin(known_items).sum()),
                                None if times.empty else times.min().to_pydatetime(),
                                None if times.empty else times.max().to_pydatetime(),
                                fingerprint, prepared.fingerprint, dumps(prepared.report.to_dict()),
                                dumps([vars(s) for s in prepared.sources]),
                                dumps([w.to_dict() for w in prepared.warnings]), len(users), len(items),
                                info.n_interactions + len(inter), info.n_users + n_new_users,
                                info.n_items + n_new_items,
                            ],
                        )
                        parent.mkdir(exist_ok=True)
                        target = self.append_dir(dataset_id, seq)
                        if target.exists():  # an orphan of an interrupted append: it has no row
                            shutil.rmtree(target)
                        os.replace(tmp, target)
                        con.execute("COMMIT")
                    except BaseException:
                        rollback(con)
                        if target is not None and target.exists() and not tmp.exists():
                            os.replace(target, tmp)  # undo the move
                        raise
            except BaseException:
                if made_parent and parent.exists() and not any(parent.iterdir()):
                    parent.rmdir()
                raise
        return self.appends(dataset_id)[seq - 1]

    def appends(self, dataset_id: str) -> list[dict[str, Any]]:
        """The dataset's history of appends, oldest first (each a dict with decoded JSON fields)."""
        with self.connect(read_only=True) as con:
            frame = con.execute("SELECT * FROM appends WHERE dataset_id = ? ORDER BY seq", [dataset_id]).df()
            known = not frame.empty or con.execute("SELECT 1 FROM datasets WHERE id = ?", [dataset_id]).fetchone()
        if not known:
            self.dataset(dataset_id)  # raises NotFound, naming the known ids
        return [append_record(row) for row in frame.to_dict("records")]

    def batch_folders(self, dataset_id: str, history: list[dict[str, Any]] | None = None) -> list[Path]:
        """The folders of the dataset's imported tables and of each append, oldest first."""
        history = self.appends(dataset_id) if history is None else history
        return [self.dataset_dir(dataset_id)] + [self.append_dir(dataset_id, r["seq"]) for r in history]

    def _known_ids(self, dataset_id: str, history: list[dict[str, Any]]) -> tuple[pd.Index, pd.Index]:
        """Every user id and every item id of the dataset's latest version (read by DuckDB)."""
        folders = self.batch_folders(dataset_id, history)
        found = []
        for key, entity in ((C.USER_ID, C.Table.USERS), (C.ITEM_ID, C.Table.ITEMS)):
            files = [[str(f / f"{t.value}.parquet") for f in folders] for t in (C.Table.INTERACTIONS, entity)]
            with duckdb.connect() as con:  # in memory: the catalogue is not involved
                ids = con.execute(
                    f"SELECT {key} FROM read_parquet(?) UNION SELECT {key} FROM read_parquet(?)", files
                ).df()[key]
            found.append(pd.Index(ids.dropna().astype("str")))
        return found[0], found[1]
