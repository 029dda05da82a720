"""A re-ranking saved with a run on the Fairness page is used by `promolens recommend` (and the page)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from recsys.insight.rerank import RerankSettings
from recsys.insight.rules import ItemRule
from recsys.workspace.audit import save_rerank
from recsys.workspace import runs
from recsys.data import synth
from recsys.cli import main
from recsys.workspace.ingest import import_files
from recsys.learn.config import ModelConfig
from recsys.learn.pipeline import TrainConfig
from recsys.workspace.store import Workspace


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("shop")
    shop = synth.generate(n_users=400, n_items=40, seed=5)
    files = synth.write_sample(shop, out)
    ws = Workspace(out / "ws")
    info, _ = import_files(ws, files["interactions"], files["users"], files["items"])
    run_id = runs.train_run(ws, info.id, TrainConfig(model=ModelConfig(epochs=3, no_components=8)), refit_all=False)
    return ws, run_id, shop.items


def _recommend(ws: Workspace, run_id: str, user: str, capsys) -> pd.DataFrame:
    # --all-offers: this small shop has a single offer live on its last day, and the re-ranking (not
    # liveness, tested in tests/app/test_app_recommendations.py) is what this test is about.
    # --model hybrid: the re-ranking reorders the hybrid's lists (on this shop a baseline wins validation and
    # serves by default; that list says the re-ranking is not applied to it, checked below).
    assert main(["recommend", "--workspace", str(ws.path), "--run", run_id, "--user", user, "-k", "5", "--json",
                 "--all-offers", "--model", "hybrid"]) == 0
    return pd.DataFrame(json.loads(capsys.readouterr().out)["recommendations"])


def test_saved_boost_reorders_the_cli_list_and_keeps_model_scores(trained, capsys) -> None:
    ws, run_id, items = trained
    deep = set(items.loc[items["discount_depth"] >= 30, "item_id"])
    user = "C000010"
    before = _recommend(ws, run_id, user, capsys)
    save_rerank(ws, run_id, RerankSettings(
        kind="boost", strength=1.0, pool=40, items=ItemRule.parse("discount_depth>=30")))
    after = _recommend(ws, run_id, user, capsys)
    assert main(["recommend", "--workspace", str(ws.path), "--run", run_id, "--user", user, "-k", "5", "--json",
                 "--all-offers"]) == 0
    served = json.loads(capsys.readouterr().out)
    if "offers" in served:  # a validated baseline serves: its list says the saved re-ranking does not shape it
        assert "re-ranking" in served["rerank_note"]
    save_rerank(ws, run_id, None)
    assert after["rank"].tolist() == [1, 2, 3, 4, 5]
    assert after["item_id"].isin(deep).sum() >= before["item_id"].isin(deep).sum()
    assert after["item_id"].isin(deep).all()  # strength 1 puts every deep discount of the pool first
    model = runs.load_model(ws, run_id)
    model_scores = model.score([user] * len(after), after["item_id"].tolist())
    assert after["score"].to_numpy() == pytest.approx(pd.Series(model_scores).to_numpy(), abs=1e-4)
    assert _recommend(ws, run_id, user, capsys)["item_id"].tolist() == before["item_id"].tolist()
