"""Campaign exports kept in a workspace: write them, read them back, list them, measure their outcome.

:func:`save_export` writes a targeting list (:mod:`recsys.campaign.export` makes the safe CSV,
the original rows and the manifest) into ``exports/<id>/`` and records it in the catalogue in
one transaction. The rest reads exports back for the Campaign and Measure pages and the CLI:
their rows (:func:`load_targets`), who was sent a coupon lately (:func:`recent_recipients`, the
contact-fatigue rule), the history table and checked download files, and the lift of an export
once its outcomes are known (:func:`measure_outcomes`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from recsys.campaign import measure
from recsys.campaign.export import (
    CSV_FILE,
    MANIFEST_FILE,
    ExportResult,
    build_manifest,
    export_table,
    read_targets,
    verify,
    write_data,
)
from recsys.core import columns as C
from recsys.workspace.store import Workspace

# Columns of the export history table.
EXPORT, CREATED, RUN, OFFERS, ROWS, SHA256 = "export", "created", "run", "offers", "rows", "sha256"


def save_export(
    workspace: Workspace,
    audience: Any,
    *,
    run_id: str | None = None,
    dataset_fingerprint: str | None = None,
    params: Mapping[str, Any] | None = None,
    reasons: pd.DataFrame | pd.Series | None = None,
    extra_columns: pd.DataFrame | None = None,
    identifiers: Iterable[str] = (),
    offers: pd.DataFrame | None = None,
) -> ExportResult:
    """Write an export into the workspace (``exports/<id>/``) and record it in the catalogue.

    The files are staged in a temporary directory, the manifest (with the new export id) is
    written inside the catalogue transaction, and the directory is moved into place before the row
    is committed: a failure leaves neither files nor a row.
    """
    table, dropped = export_table(audience, reasons=reasons, extra_columns=extra_columns, identifiers=identifiers,
                                  offers=offers)
    staged: dict[str, Any] = {}

    def write_files(tmp: Path) -> None:
        staged.update(write_data(table, tmp, atomic=False))

    def write_manifest(tmp: Path, export_id: str, created_at: datetime) -> dict[str, Any]:
        manifest = build_manifest(audience, table, dropped, staged, run_id, dataset_fingerprint, params, export_id, created_at)
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=False), encoding="utf-8")
        return manifest

    export_id = workspace.save_export(write_files, write_manifest, run_id=run_id)
    directory = workspace.export_dir(export_id)
    return ExportResult(directory, json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8")))


def load_targets(workspace: Workspace, export_id: str) -> pd.DataFrame:
    """The rows of a workspace export (raises ``store.NotFound`` for an unknown id)."""
    workspace.export(export_id)
    return read_targets(workspace.export_dir(export_id))


def recent_recipients(workspace: Workspace, days: int, as_of: datetime | None = None) -> pd.Series:
    """Customers sent a coupon (treatment rows) by workspace exports of the last ``days`` days."""
    as_of = as_of or datetime.now(timezone.utc).replace(tzinfo=None)
    since = as_of - timedelta(days=int(days))
    ids = [
        read_targets(workspace.export_dir(e["id"])).query(f"{C.GROUP} == @C.TREATMENT")[C.USER_ID]
        for e in workspace.exports() if since <= pd.Timestamp(e["created_at"]).to_pydatetime() <= as_of
    ]
    return pd.concat(ids, ignore_index=True).drop_duplicates() if ids else pd.Series([], name=C.USER_ID, dtype=object)


def planned_holdout(record: Mapping[str, Any]) -> float | None:
    """The holdout share an export was made with (from its catalogue record), or None."""
    return (record.get("manifest") or {}).get("params", {}).get("spec", {}).get("holdout_share")


def measure_outcomes(
    workspace: Workspace,
    export_id: str,
    outcomes: pd.DataFrame,
    outcome_columns: list[str],
    *,
    user_column: str | None = None,
    alpha: float = 0.05,
    source: str = "outcomes",
) -> measure.Measurement:
    """Lift of a workspace export: :func:`recsys.campaign.measure.measure_export` of its rows.

    The sample-ratio check uses the export's own holdout share. Nothing is recorded: pass the
    result to ``workspace.save_measurement(result.params, result.to_dict(), export_id=...)``.
    """
    record = workspace.export(export_id)  # NotFound for an unknown id
    return measure.measure_export(
        read_targets(workspace.export_dir(export_id)), outcomes, outcome_columns, user_column=user_column,
        planned_share=planned_holdout(record), alpha=alpha, source=source, export_id=export_id,
    )


def export_history(workspace: Workspace) -> pd.DataFrame:
    """One row per export (newest first): id, time, run, offers (named), customers per group, rows, sha256."""
    rows = []
    for record in workspace.exports():  # one row per export (a short list)
        manifest = record.get("manifest") or {}
        counts = manifest.get("counts", {})
        names = manifest.get("params", {}).get("offer_names", {})
        offers = list(counts.get("by_offer", {}))
        rows.append({
            EXPORT: record["id"], CREATED: record["created_at"], RUN: record["run_id"],
            OFFERS: ", ".join(names.get(o, o) for o in offers[:3]) + (f" +{len(offers) - 3}" if len(offers) > 3 else ""),
            C.TREATMENT: counts.get("customers_by_group", {}).get(C.TREATMENT, 0),
            C.CONTROL: counts.get("customers_by_group", {}).get(C.CONTROL, 0),
            ROWS: int(record["n_rows"] or 0), SHA256: str(record["sha256"] or "")[:12],
        })
    return pd.DataFrame(rows, columns=[EXPORT, CREATED, RUN, OFFERS, C.TREATMENT, C.CONTROL, ROWS, SHA256])


@dataclass(frozen=True)
class ExportFiles:
    """The files of one workspace export, checked against the sha256 in its manifest."""

    export_id: str
    directory: Path
    intact: bool

    def csv_bytes(self) -> bytes:
        """The targeting CSV, as sent to the campaign tool."""
        return (self.directory / CSV_FILE).read_bytes()

    def manifest_bytes(self) -> bytes:
        """The manifest JSON."""
        return (self.directory / MANIFEST_FILE).read_bytes()


def export_files(workspace: Workspace, export_id: str) -> ExportFiles:
    """The files of ``export_id``; ``intact`` is False when the CSV was changed after export.

    Raises :class:`~recsys.campaign.export.ExportError` or ``OSError`` when they cannot be read.
    """
    directory = workspace.export_dir(export_id)
    return ExportFiles(export_id, directory, verify(directory))


__all__ = [
    "save_export", "load_targets", "recent_recipients", "planned_holdout", "measure_outcomes",
    "export_history", "ExportFiles", "export_files",
]
