"""Uplift and ROI jobs: learn from a shop's randomised past campaigns, value a campaign's pairs, and
preview a list's incremental responders, revenue, discount cost and ROI against response targeting.

The randomised history is a table with one row per customer x past campaign (``user_id``,
``item_id``, ``group`` = treatment / control, ``sent_date``, ``converted``): the shape of an export
joined with its uploaded outcomes, and of the sample shop's ``past_campaigns.csv``. The fitted uplift
model is kept in memory per (dataset, history file) so a page or a repeated build does not refit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.campaign import roi
from recsys.campaign.allocation import allocate
from recsys.campaign.spec import CampaignError, TargetingError
from recsys.core.i18n import gettext as _
from recsys.core import columns as C
from recsys.learn.uplift import HISTORY_COLUMNS, ShopUplift, UpliftError
from recsys.metrics.uplift import UpliftEvaluation

_MODELS: dict[tuple[str, str, int], ShopUplift] = {}
_MAX_MODELS = 4


def check_objective(request: Any) -> None:
    """Refuse an unknown objective or a margin rate outside 0..1 (a :class:`CampaignError` naming the fix)."""
    if request.objective not in roi.OBJECTIVES:
        raise CampaignError(f"Unknown objective {request.objective!r}. Fix: use {', '.join(roi.OBJECTIVES)}.")
    if not 0.0 <= float(request.margin_rate) <= 1.0:
        raise CampaignError(f"The margin rate must be from 0 to 1 (e.g. 0.4 = 40%), got {request.margin_rate}.")


def objective_args(request: Any) -> list[str]:
    """The ``promolens export`` flags of a request's objective (none for ``response``)."""
    if request.objective == "response":
        return []
    argv = ["--objective", request.objective]
    argv += ["--margin-column", request.margin_column] if request.margin_column else ["--margin-rate", f"{request.margin_rate:g}"]
    if request.depth_column != "discount_depth":
        argv += ["--depth-column", request.depth_column]
    if request.past_campaigns:
        argv += ["--past-campaigns", str(request.past_campaigns)]
    return argv


def read_history(path: str | Path) -> pd.DataFrame:
    """Read a randomised history file; a clear error names the file and the missing columns."""
    from recsys.data.files import ReadLimits
    from recsys.data.read import read_table

    path = Path(path)
    if not path.is_file():
        raise CampaignError(f"No past-campaigns file at {path}. Fix: give a CSV of past exports with their outcomes "
                            f"(columns {', '.join(HISTORY_COLUMNS)}).")
    frame = read_table(path, limits=ReadLimits.from_env(), text_columns=[C.USER_ID, C.ITEM_ID])
    missing = [c for c in HISTORY_COLUMNS if c not in frame.columns]
    if missing:
        raise CampaignError(f"{path.name}: no column(s) {', '.join(missing)}. Fix: the past campaigns need "
                            f"{', '.join(HISTORY_COLUMNS)} (one row per customer sent or held out).")
    frame[C.USER_ID] = frame[C.USER_ID].astype(str)
    frame[C.ITEM_ID] = frame[C.ITEM_ID].astype(str)
    frame["sent_date"] = pd.to_datetime(frame["sent_date"], errors="coerce")
    if frame["sent_date"].isna().any():
        rows = (np.flatnonzero(frame["sent_date"].isna().to_numpy())[:5] + 2).tolist()
        raise CampaignError(f"{path.name}: column 'sent_date' has missing or unreadable dates (rows {rows}). Fix: YYYY-MM-DD.")
    return frame


def history_path(dataset: Any, given: str | None) -> Path | None:
    """The history file to learn from: the one given, else the sample's ``past_campaigns.csv`` when the
    dataset is the bundled sample (its source folder has one)."""
    from recsys.workspace.ingest import SAMPLE_DIR

    if given:
        return Path(given)
    sample = SAMPLE_DIR / "past_campaigns.csv"
    return sample if getattr(getattr(dataset, "info", None), "is_sample", False) and sample.is_file() else None


#: File in an export's folder with its customers (treatment and control) and whether each converted,
#: written when its outcomes are measured: training data for the next uplift model.
MEASURED_FILE = "uplift_history.parquet"


def record_export_outcomes(workspace: Any, export_id: str, targets: pd.DataFrame, outcomes: pd.DataFrame,
                           outcome: str, user_column: str) -> int:
    """Keep a measured export's customers with their outcome (converted = outcome > 0) for the next uplift
    model; returns the rows kept. The export's day is the send date."""
    record = workspace.export(export_id)
    customers = targets.sort_values([C.USER_ID, C.RANK], kind="stable").drop_duplicates(C.USER_ID)
    values = pd.to_numeric(outcomes[outcome], errors="coerce").fillna(0.0)
    if not pd.api.types.is_numeric_dtype(outcomes[outcome]):  # yes / no, true / false
        values = outcomes[outcome].astype(str).str.strip().str.lower().isin(["1", "true", "yes", "y", "t"]).astype(float)
    buyers = pd.Index(outcomes.loc[values.to_numpy() > 0, user_column].astype(str).str.strip().unique())
    rows = pd.DataFrame({
        C.USER_ID: customers[C.USER_ID].astype(str).to_numpy(), C.ITEM_ID: customers[C.ITEM_ID].astype(str).to_numpy(),
        C.GROUP: customers[C.GROUP].astype(str).to_numpy(),
        "sent_date": pd.Timestamp(record["created_at"]).tz_localize(None).normalize(),
        "converted": customers[C.USER_ID].astype(str).isin(buyers).astype("int64").to_numpy(),
    })
    folder = Path(workspace.export_dir(export_id))
    tmp = folder / f".{MEASURED_FILE}.tmp"
    rows.to_parquet(tmp, index=False)
    tmp.replace(folder / MEASURED_FILE)  # atomic: a reader sees the old file or the new one
    return len(rows)


def measured_history(workspace: Any) -> list[Path]:
    """The recorded histories of measured exports (see :func:`record_export_outcomes`)."""
    paths = [Path(workspace.export_dir(e["id"])) / MEASURED_FILE for e in workspace.exports()]
    return [p for p in paths if p.is_file()]


def fitted_uplift(dataset: Any, path: Path | None, seed: int = 0, measured: tuple[Path, ...] = ()) -> ShopUplift:
    """The uplift model of a dataset, a history file and measured exports (fitted once per process)."""
    files = ([path] if path is not None else []) + list(measured)
    key = (str(getattr(getattr(dataset, "info", None), "fingerprint", id(dataset))),
           ";".join(f"{p.resolve()}:{p.stat().st_mtime_ns}" for p in files), seed)
    if key not in _MODELS:
        parts = ([read_history(path)] if path is not None else []) + [pd.read_parquet(p) for p in measured]
        history = pd.concat(parts, ignore_index=True)
        history = history[history[C.USER_ID].isin(dataset.users[C.USER_ID].astype(str))] if dataset.users is not None else history
        try:
            model = ShopUplift(seed=seed).fit(history, dataset.interactions, dataset.users, dataset.items)
        except UpliftError as exc:
            raise CampaignError(f"past campaigns ({', '.join(p.name for p in files)}): {exc}") from exc
        if len(_MODELS) >= _MAX_MODELS:
            _MODELS.pop(next(iter(_MODELS)))
        _MODELS[key] = model
    return _MODELS[key]


@dataclass(frozen=True)
class RoiPreview:
    """What the Campaign page shows about money under an uplift or profit objective.

    ``summary``: the list's incremental responders, revenue, discount cost, profit, ROI (model value,
    control-group calibrated value and interval) next to response targeting with the same number of
    coupons (``response_*`` columns); ``selection_note``: who was left out; ``evaluation``: the
    uplift model against the response ranking and random on held-out past customers.
    """

    objective: str
    summary: pd.DataFrame
    selection_note: str
    left_out_customers: int
    evaluation: UpliftEvaluation
    history_rows: int
    margin: str

    def to_dict(self) -> dict[str, Any]:
        return {"objective": self.objective, "summary": self.summary.to_dict("records"),
                "selection_note": self.selection_note, "left_out_customers": self.left_out_customers,
                "history_rows": self.history_rows, "margin": self.margin,
                "evaluation": self.evaluation.to_dict()}


def objective_scores(workspace: Any, dataset: Any, request: Any, probabilities: pd.DataFrame,
                     day: Any) -> tuple[pd.DataFrame, Any]:
    """Scores for the allocation under ``request.objective`` (uplift or profit) and the context the
    preview needs: ``(scores, (model, values, selection))``. ``probabilities`` are the scored pairs.
    The uplift is learned from the past-campaigns file (or the sample's) plus every measured export."""
    path = history_path(dataset, request.past_campaigns)
    measured = tuple(measured_history(workspace))
    if path is None and not measured:
        raise CampaignError("An uplift or profit objective learns from past campaigns with a control group. "
                            "Fix: measure a past export's outcomes on the Measure page, or give the past exports "
                            "with their outcomes (CLI: --past-campaigns FILE).")
    model = fitted_uplift(dataset, path, request.spec.seed, measured)
    as_of = day if day is not None else dataset.interactions[C.TIMESTAMP].max()
    margin = request.margin_column if request.margin_column else request.margin_rate
    try:
        values = roi.value_pairs(model, probabilities[C.USER_ID].to_numpy(), probabilities[C.ITEM_ID].to_numpy(), as_of,
                                 dataset.interactions, dataset.users, dataset.items, request.depth_column, margin)
        selection = roi.select_pairs(values, dataset.items, request.objective, request.depth_column)
    except TargetingError as exc:
        raise CampaignError(str(exc)) from exc
    tables = (dataset.interactions, dataset.users, dataset.items)
    return selection.values[[C.USER_ID, C.ITEM_ID, C.SCORE]], (model, values, selection, tables, as_of)


def roi_preview(frame: pd.DataFrame, request: Any, context: Any) -> RoiPreview:
    """The money of the list's treatment rows vs response targeting with as many coupons."""
    model, values, selection = context[:3]
    h = model.holdout_
    cal = roi.calibration(h["uplift"], h["treated"], h["converted"], seed=request.spec.seed)
    keyed = values.set_index([C.USER_ID, C.ITEM_ID])
    sent = frame[frame[C.GROUP] == C.TREATMENT]
    ours = keyed.reindex(pd.MultiIndex.from_arrays([sent[C.USER_ID].astype(str), sent[C.ITEM_ID].astype(str)])).dropna(
        subset=["uplift"]).reset_index()
    users = pd.factorize(values[C.USER_ID])[0]
    offers = pd.factorize(values[C.ITEM_ID])[0]
    chosen = allocate(users, offers, values["p_with"].to_numpy(), cap=request.spec.max_per_customer,
                         total_coupons=len(sent), seed=request.spec.seed)[0]
    response = values[chosen]
    table = roi.roi_summary(ours, cal)
    other = roi.roi_summary(response, cal)
    for col in ("model", "observed", "low", "high"):
        table[f"response_{col}"] = other[col].to_numpy()
    margin = (_("column {column}").format(column=request.margin_column) if request.margin_column
              else _("{rate} of the order").format(rate=f"{request.margin_rate:.0%}"))
    return RoiPreview(request.objective, table, selection.note(), selection.negative_customers,
                      model.evaluation(n_boot=200), model.n_rows_, margin)


def uplift_reasons(frame: pd.DataFrame, context: Any, n: int) -> pd.Series:
    """Per row: the ``n`` inputs that move its predicted uplift most (exact TreeSHAP attributions, in
    percentage points) and the control-group evidence of customers like it."""
    model, values, _, tables, day = context
    if len(frame) == 0:
        return pd.Series("", index=frame.index, dtype=object)
    h = model.holdout_
    cal = roi.calibration(h["uplift"], h["treated"], h["converted"], n_boot=0)
    keyed = values.set_index([C.USER_ID, C.ITEM_ID])
    rows = keyed.reindex(pd.MultiIndex.from_arrays([frame[C.USER_ID].astype(str), frame[C.ITEM_ID].astype(str)])).reset_index()
    evidence = roi.control_evidence(rows.fillna({"uplift": 0.0}), cal).to_numpy()
    try:
        attributions, _ = model.explain_pairs(rows[C.USER_ID], rows[C.ITEM_ID], day, *tables)
    except UpliftError:
        return pd.Series(evidence, index=frame.index, dtype=object)
    a = attributions.to_numpy()
    top = np.argsort(-np.abs(a), axis=1)[:, :n]
    names = np.asarray(attributions.columns, dtype=object)[top]
    points = np.take_along_axis(a, top, axis=1) * 100
    parts = [names[:, k] + " " + pd.Series(points[:, k]).map("{:+.1f} pt".format).to_numpy(dtype=object) for k in range(top.shape[1])]
    text = parts[0]
    for extra in parts[1:]:
        text = text + "; " + extra
    return pd.Series(("uplift: " + text + "; " + evidence).astype(object), index=frame.index, dtype=object)
