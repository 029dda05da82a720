"""A small shop split in time, imported into a workspace and trained on, for update tests.

``shop()`` gives the synthetic shop and its old / new events: the new ones are the last 10 days,
and a few offers and customers appear only in them (launched / joined after training).
``workspace_with_run(root)`` imports the old part (dataset d1), trains a small run on it and
writes the new part as files ready to append: ``new_interactions.csv``, ``new_users.csv`` and
``new_items.csv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recsys.core import columns as C
from recsys.workspace import ingest, runs
from recsys.data import synth
from recsys.learn.config import ModelConfig
from recsys.learn.pipeline import TrainConfig
from recsys.workspace.store import Workspace

SEED = 5


def shop() -> tuple[synth.SyntheticShop, pd.DataFrame, pd.DataFrame]:
    s = synth.generate(n_users=500, n_items=50, seed=SEED, days=90)
    ts = pd.to_datetime(s.interactions[C.TIMESTAMP])
    cut = ts.max() - pd.Timedelta(days=10)
    new = s.interactions[(ts > cut).to_numpy()].reset_index(drop=True)
    # offers that launch and customers who join after training: none of their events before the cut
    late_items = np.sort(new[C.ITEM_ID].unique())[:3]
    late_users = np.sort(new[C.USER_ID].unique())[:10]
    early = (ts <= cut) & ~s.interactions[C.ITEM_ID].isin(late_items) & ~s.interactions[C.USER_ID].isin(late_users)
    old = s.interactions[early.to_numpy()].reset_index(drop=True)
    return s, old, new


def workspace_with_run(root: Path) -> tuple[Workspace, str, str, Path]:
    s, old, new = shop()
    files = root / "files"
    files.mkdir(parents=True)
    early_users = s.users[s.users[C.USER_ID].isin(old[C.USER_ID])]
    early_items = s.items[s.items[C.ITEM_ID].isin(old[C.ITEM_ID])]
    old.to_csv(files / "interactions.csv", index=False)
    early_users.to_csv(files / "users.csv", index=False)
    early_items.to_csv(files / "items.csv", index=False)
    new.to_csv(files / "new_interactions.csv", index=False)
    s.users[~s.users[C.USER_ID].isin(early_users[C.USER_ID])].to_csv(files / "new_users.csv", index=False)
    s.items[~s.items[C.ITEM_ID].isin(early_items[C.ITEM_ID])].to_csv(files / "new_items.csv", index=False)
    ws = Workspace(root / "ws")
    info, _ = ingest.import_files(ws, files / "interactions.csv", files / "users.csv", files / "items.csv", name="shop")
    cfg = TrainConfig(model=ModelConfig(epochs=3, no_components=8), seed=SEED, early_stopping=False,
                      baselines=("popularity",))
    run_id = runs.train_run(ws, info.id, cfg)
    return ws, info.id, run_id, files
