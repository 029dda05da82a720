"""Import files into a workspace: read + validate + clean (``io``) then store atomically (``store``).

The CLI and the Data page both go through :func:`import_files`, so a dataset imported either way
is the same dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from recsys import io
from recsys.store import DatasetInfo, Workspace

#: The sample shop shipped with the project (made by ``promolens sample --out sample_data``).
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample_data"
SAMPLE_NAME = "Sample shop"


def sample_files(sample_dir: Path = SAMPLE_DIR) -> dict[str, Path]:
    """Paths of the sample's interactions, users and items files."""
    interactions = next(
        (sample_dir / n for n in ("interactions.csv", "interactions.csv.gz", "interactions.parquet")
         if (sample_dir / n).exists()),
        None,
    )
    if interactions is None:
        raise FileNotFoundError(
            f"No sample interactions file in {sample_dir}. Recreate it with "
            f"`promolens sample --out {sample_dir}`."
        )
    return {"interactions": interactions, "users": sample_dir / "users.csv", "items": sample_dir / "items.csv"}


def import_files(
    workspace: Workspace,
    interactions: str | Path,
    users: str | Path | None = None,
    items: str | Path | None = None,
    *,
    name: str | None = None,
    mapping: dict[str, dict[str, str]] | None = None,
    options: io.ImportOptions | None = None,
    names: dict[str, str] | None = None,
    pseudonymise: bool = False,
    is_sample: bool = False,
    progress: Callable[[str, float], None] | None = None,
) -> tuple[DatasetInfo, io.PreparedDataset]:
    """Read, validate, clean and store one dataset; raises ``validate.DataError`` on bad input.

    Nothing is written to the workspace unless every file passes.
    """
    options = options or io.ImportOptions()
    if pseudonymise:
        options = io.ImportOptions(**{**vars(options), "pseudonymise_key": workspace.secret_key()})
    if progress:
        progress("Reading and checking the files", 0.1)
    prepared = io.prepare_dataset(interactions, users, items, mapping=mapping, options=options, names=names)
    if progress:
        progress("Saving to the workspace", 0.8)
    label = name or Path((names or {}).get("interactions", str(interactions))).name
    info = workspace.save_dataset(prepared, label, is_sample=is_sample)
    if progress:
        progress("Done", 1.0)
    return info, prepared


def ensure_sample_dataset(workspace: Workspace, sample_dir: Path = SAMPLE_DIR) -> DatasetInfo | None:
    """Import the sample shop when the workspace has no dataset yet (first start)."""
    if workspace.datasets():
        return None
    files = sample_files(sample_dir)
    info, _ = import_files(
        workspace, files["interactions"], files["users"], files["items"], name=SAMPLE_NAME, is_sample=True
    )
    return info
