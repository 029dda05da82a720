"""Shared, session-scoped set-up: each shop is generated once and each tiny model trained once.

Many test modules used to regenerate the same synthetic shop and train the same tiny model in a
module fixture of their own; on the shared 2-core machine that repetition is most of the suite's
set-up time. The fixtures here make each of them once per test session:

* ``sample_shop``: the bundled sample shop (``sample_data/``, 4,000 customers) as a
  :class:`~recsys.data.synth.SyntheticShop` (frames + planted truth); ``sample_schemas`` its
  inferred (users, items) schemas, the e-mail column kept out as an identifier; ``sample_model``
  one tiny model (``TINY_MODEL``) trained on all of it.
* ``small_shop``: the small synthetic shop (300 customers, 30 offers, seed 3) several modules
  build on; ``small_shop_files`` the same written once as sample files.
* ``small_workspace_template`` / ``sample_workspace_template``: a workspace holding the small shop
  (or the bundled sample) imported, with one tiny run trained; never write to them.
  ``small_workspace`` / ``sample_workspace`` are fresh copies for a test that writes.

Session fixtures are shared by every test that asks for them: treat the frames, models and
template workspaces as read-only (copy a frame before changing it in place).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the recsys imports stay lazy: collecting a test must not train or import LightFM
    from recsys.data.schema import TableSchema
    from recsys.data.synth import SyntheticShop
    from recsys.learn.model import HybridRecommender, ModelConfig

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT / "sample_data"
SMALL_SHOP = {"n_users": 300, "n_items": 30, "seed": 3}  # the small shop of the workspace / page tests


def tiny_model_config(**overrides: object) -> ModelConfig:
    """The tiny model the tests train: 3 epochs, 8 components (seconds, not minutes)."""
    from recsys.learn.model import ModelConfig

    return ModelConfig(**{"epochs": 3, "no_components": 8, **overrides})


@dataclass(frozen=True)
class TrainedWorkspace:
    """A workspace folder with one imported dataset and one trained run."""

    path: Path
    dataset_id: str
    run_id: str

    def copy_to(self, dest: Path) -> TrainedWorkspace:
        """A copy at ``dest`` (a folder that does not exist yet), same ids."""
        shutil.copytree(self.path, dest)
        return TrainedWorkspace(dest, self.dataset_id, self.run_id)


def _schemas(shop: SyntheticShop) -> tuple[TableSchema, TableSchema]:
    from recsys.core import columns as C
    from recsys.data import synth_vocab
    from recsys.data.schema import infer_schema

    return (infer_schema(shop.users, C.USER_ID, identifiers={synth_vocab.EMAIL}),
            infer_schema(shop.items, C.ITEM_ID))


# ------------------------------------------------------------------------ the bundled sample shop
@pytest.fixture(scope="session")
def sample_shop() -> SyntheticShop:
    """The bundled sample shop (``sample_data/``): interactions, users, items and the planted truth."""
    from recsys.data import synth

    return synth.load_sample(SAMPLE_DIR)


@pytest.fixture(scope="session")
def sample_schemas(sample_shop: SyntheticShop) -> tuple[TableSchema, TableSchema]:
    """(users schema, items schema) of the sample shop, inferred; the e-mail is an identifier."""
    return _schemas(sample_shop)


@pytest.fixture(scope="session")
def sample_model(sample_shop: SyntheticShop, sample_schemas: tuple[TableSchema, TableSchema]) -> HybridRecommender:
    """One tiny model (3 epochs, 8 components, seed 0) trained on the whole sample shop."""
    from recsys.learn.model import HybridRecommender

    users_schema, items_schema = sample_schemas
    return HybridRecommender(tiny_model_config(random_state=0)).fit(
        sample_shop.interactions, sample_shop.users, users_schema, sample_shop.items, items_schema
    )


@pytest.fixture(scope="session")
def sample_workspace_template(tmp_path_factory: pytest.TempPathFactory) -> TrainedWorkspace:
    """The sample shop imported as the app does on first start, with one tiny run (no baselines,
    no early stopping, no refit on all data). Read-only: use ``sample_workspace`` to write."""
    from recsys.learn.pipeline import TrainConfig
    from recsys.workspace import runs
    from recsys.workspace.ingest import ensure_sample_dataset
    from recsys.workspace.store import Workspace

    path = tmp_path_factory.mktemp("sample-workspace") / "ws"
    ws = Workspace(path)
    info = ensure_sample_dataset(ws, SAMPLE_DIR)
    assert info is not None
    config = TrainConfig(model=tiny_model_config(), baselines=(), early_stopping=False)
    return TrainedWorkspace(path, info.id, runs.train_run(ws, info.id, config, refit_all=False))


@pytest.fixture()
def sample_workspace(sample_workspace_template: TrainedWorkspace, tmp_path: Path) -> TrainedWorkspace:
    """A fresh copy of ``sample_workspace_template`` for this test."""
    return sample_workspace_template.copy_to(tmp_path / "sample-ws")


# ------------------------------------------------------------------------ the small synthetic shop
@pytest.fixture(scope="session")
def small_shop() -> SyntheticShop:
    """``synth.generate(n_users=300, n_items=30, seed=3)``."""
    from recsys.data import synth

    return synth.generate(**SMALL_SHOP)


@pytest.fixture(scope="session")
def small_shop_schemas(small_shop: SyntheticShop) -> tuple[TableSchema, TableSchema]:
    """(users schema, items schema) of the small shop, inferred; the e-mail is an identifier."""
    return _schemas(small_shop)


@pytest.fixture(scope="session")
def small_shop_files(small_shop: SyntheticShop, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The small shop written once as sample files (``interactions``, ``users``, ``items``; read-only)."""
    from recsys.data import synth

    return synth.write_sample(small_shop, tmp_path_factory.mktemp("small-shop") / "shop")


@pytest.fixture(scope="session")
def small_workspace_template(small_shop_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> TrainedWorkspace:
    """The small shop imported as "small shop" with one tiny run (default baselines, split and
    refit). Read-only: use ``small_workspace`` to write."""
    from recsys.learn.pipeline import TrainConfig
    from recsys.workspace import runs
    from recsys.workspace.ingest import import_files
    from recsys.workspace.store import Workspace

    path = tmp_path_factory.mktemp("small-workspace") / "ws"
    ws = Workspace(path)
    files = small_shop_files
    info, _ = import_files(ws, files["interactions"], files["users"], files["items"], name="small shop")
    return TrainedWorkspace(path, info.id, runs.train_run(ws, info.id, TrainConfig(model=tiny_model_config())))


@pytest.fixture()
def small_workspace(small_workspace_template: TrainedWorkspace, tmp_path: Path) -> TrainedWorkspace:
    """A fresh copy of ``small_workspace_template`` for this test."""
    return small_workspace_template.copy_to(tmp_path / "small-ws")


# ------------------------------------------------------------------------ the Chinese small shop
@pytest.fixture(scope="session")
def zh_shop(small_shop: SyntheticShop) -> SyntheticShop:
    """The small shop with Chinese labels, titles and descriptions (``synth_zh.to_chinese``)."""
    from recsys.data import synth_zh

    return synth_zh.to_chinese(small_shop)


@pytest.fixture(scope="session")
def zh_workspace_template(zh_shop: SyntheticShop, tmp_path_factory: pytest.TempPathFactory) -> TrainedWorkspace:
    """The Chinese small shop imported as "中文小店" with one tiny run (default baselines). Read-only:
    use ``zh_workspace`` to write."""
    from recsys.data import synth
    from recsys.learn.pipeline import TrainConfig
    from recsys.workspace import runs
    from recsys.workspace.ingest import import_files
    from recsys.workspace.store import Workspace

    files = synth.write_sample(zh_shop, tmp_path_factory.mktemp("zh-shop") / "shop")
    path = tmp_path_factory.mktemp("zh-workspace") / "ws"
    ws = Workspace(path)
    info, _ = import_files(ws, files["interactions"], files["users"], files["items"], name="中文小店")
    return TrainedWorkspace(path, info.id, runs.train_run(ws, info.id, TrainConfig(model=tiny_model_config())))


@pytest.fixture()
def zh_workspace(zh_workspace_template: TrainedWorkspace, tmp_path: Path) -> TrainedWorkspace:
    """A fresh copy of ``zh_workspace_template`` for this test."""
    return zh_workspace_template.copy_to(tmp_path / "zh-ws")
