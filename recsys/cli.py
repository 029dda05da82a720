"""The ``promolens`` command: every main job without a browser.

Exit codes: 0 done, 2 bad input (the report says what to fix), 3 workspace busy or missing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from recsys.core import columns as C
from recsys.core import i18n
from recsys.core.i18n import N_, fill, ngettext
from recsys.core.i18n import gettext as _
from recsys.core.jsonio import dumps
from recsys.workspace.store import WorkspaceError, default_workspace_path

EXIT_BAD_INPUT = 2
EXIT_WORKSPACE = 3

Handler = Callable[[argparse.Namespace], int]
ArgAdder = Callable[[argparse.ArgumentParser], None]


def _print_json(data: Any) -> None:
    print(dumps(data, indent=2, sort_keys=False))


def _workspace_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace", type=Path, default=None,
        help=_("workspace directory (default: $PROMOLENS_WORKSPACE or ./workspace)"),
    )


def _workspace(args: argparse.Namespace):  # noqa: ANN202 - Workspace, imported lazily
    from recsys.workspace.store import Workspace

    return Workspace(args.workspace or default_workspace_path())


# ---------------------------------------------------------------------------- sample
def _progress_printer(quiet: bool) -> Callable[[str, float], None]:
    """A progress callback printing "[ 40%] message" lines to stderr (nothing when ``quiet``)."""

    def progress(message: str, share: float) -> None:
        if not quiet:
            print(f"[{share:4.0%}] {message}", file=sys.stderr)

    return progress


def _sample_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help=_("directory to write the sample files into"))
    p.add_argument("--users", type=int, default=None, help=_("number of customers"))
    p.add_argument("--items", type=int, default=None, help=_("number of offers"))
    p.add_argument("--seed", type=int, default=None, help=_("random seed"))
    p.add_argument("--plant-bias", action="store_true", help=_("plant an age-band targeting bias (for fairness demos)"))
    p.add_argument("--locale", choices=["en", "zh"], default="en",
                   help=_("language of the shop's labels, offer titles and descriptions (zh: a Chinese shop)"))


def cmd_sample(args: argparse.Namespace) -> int:
    from recsys.data import synth

    overrides: dict[str, Any] = {}
    if args.users is not None:
        overrides["n_users"] = args.users
    if args.items is not None:
        overrides["n_items"] = args.items
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.plant_bias:
        overrides["plant_bias"] = True
    shop = synth.generate(**overrides)
    if args.locale == "zh":
        from recsys.data.synth_zh import to_chinese

        shop = to_chinese(shop)
    paths = synth.write_sample(shop, args.out)
    for label, path in paths.items():
        print(f"{label}: {path}")
    return 0



# ---------------------------------------------------------------------------- import
def _import_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    p.add_argument("--interactions", type=Path, required=True, help=_("interactions file (CSV, CSV.gz, Parquet, Excel)"))
    p.add_argument("--users", type=Path, default=None, help=_("customer facts file"))
    p.add_argument("--items", type=Path, default=None, help=_("offer / product facts file"))
    p.add_argument("--name", default=None, help=_("dataset name (default: the interactions file name)"))
    p.add_argument(
        "--map", action="append", default=[], metavar="CANONICAL=THEIRS",
        help=_("map a canonical column to yours, e.g. user_id=CustomerID or users.user_id=cust (repeatable)"),
    )
    p.add_argument("--user-columns", nargs="*", default=None, help=_("interaction-file columns that are customer facts"))
    p.add_argument("--item-columns", nargs="*", default=None, help=_("interaction-file columns that are offer facts"))
    p.add_argument(
        "--leading-zero-ids", choices=["error", "merge", "keep"], default="error",
        help=_("ids like 007 and 7 in one column: stop (default), treat as one id, or keep apart"),
    )
    p.add_argument("--pseudonymise", action="store_true", help=_("replace customer ids by keyed pseudonyms"))
    p.add_argument("--max-file-mb", type=float, default=None,
                   help=_("refuse files larger than this (default: $PROMOLENS_MAX_FILE_MB or 2048)"))
    p.add_argument("--delimiter", default=None, help=_("CSV delimiter, e.g. ';' or tab (default: detected)"))
    p.add_argument("--allow-duplicate", action="store_true",
                   help=_("keep a second copy when the same files were already imported the same way (default: refuse)"))
    p.add_argument("--json", action="store_true", help=_("print the result as JSON"))


def parse_mapping(pairs: Sequence[str]) -> dict[str, dict[str, str]]:
    """``["user_id=CustomerID", "users.user_id=cid"]`` -> ``{"interactions": {...}, "users": {...}}``."""
    mapping: dict[str, dict[str, str]] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(fill(_("--map {pair}: write CANONICAL=THEIRS, e.g. --map user_id=CustomerID"), pair=repr(pair)))
        canonical, theirs = (part.strip() for part in pair.split("=", 1))
        table, _dot, column = canonical.rpartition(".")
        table = table or C.Table.INTERACTIONS.value
        if table not in {t.value for t in C.Table}:
            raise ValueError(fill(_("--map {pair}: unknown table {table}; use interactions, users or items"),
                                  pair=repr(pair), table=repr(table)))
        allowed = C.MAPPABLE_COLUMNS[C.Table(table)]
        if column not in allowed:
            raise ValueError(fill(_("--map {pair}: {column} is not a column of {table}; choose one of {allowed}"),
                                  pair=repr(pair), column=repr(column), table=table, allowed=", ".join(allowed)))
        mapping.setdefault(table, {})[column] = theirs
    return mapping


def cmd_import(args: argparse.Namespace) -> int:
    from recsys.data.files import ReadLimits
    from recsys.data.mapping import ImportOptions
    from recsys.workspace.ingest import DuplicateImportError, import_files

    try:
        mapping = parse_mapping(args.map)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        limits = ReadLimits.from_env()  # a deployment's limits (PROMOLENS_MAX_FILE_MB, ...)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.max_file_mb is not None:
        limits = ReadLimits(**{**vars(limits), "max_file_bytes": int(args.max_file_mb * 1024**2)})
    delimiter = "\t" if args.delimiter in ("tab", "\\t") else args.delimiter
    options = ImportOptions(
        leading_zero_ids=args.leading_zero_ids, limits=limits, delimiter=delimiter,
        user_columns=tuple(args.user_columns) if args.user_columns is not None else None,
        item_columns=tuple(args.item_columns) if args.item_columns is not None else None,
    )
    ws = _workspace(args)
    try:
        info, prepared = import_files(
            ws, args.interactions, args.users, args.items, name=args.name, mapping=mapping or None,
            options=options, pseudonymise=args.pseudonymise, refuse_duplicate=not args.allow_duplicate,
        )
    except DuplicateImportError as exc:
        print(f"Not imported: {exc}\nFix: use dataset {exc.existing.id} (--dataset {exc.existing.id}), or add "
              "--allow-duplicate to keep a second copy.", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        _print_json({"dataset": info.to_dict()})
        return 0
    print(fill(_("Imported dataset {id} '{name}': {interactions} interactions, {customers} customers, "
                 "{offers} offers."), id=info.id, name=info.name, interactions=i18n.format_number(info.n_interactions),
               customers=i18n.format_number(info.n_users), offers=i18n.format_number(info.n_items)))
    if prepared.mapping:
        print(_("Columns used:") + " " + "; ".join(
            f"{_(table)}: " + ", ".join(f"{theirs} -> {canonical}" for canonical, theirs in cols.items())
            for table, cols in prepared.mapping.items()))
    print(_("Cleaning report:"))
    print(report_text(prepared.report))
    for warning in prepared.warnings:
        print(fill(_("warning: {warning}"), warning=warning))
    return 0


#: The cleaning report's headers and actions, for people (the report itself keeps its English keys).
REPORT_WORDS = {
    "table": N_("table"), "name": N_("step"), "count": N_("rows"), "action": N_("action"),
    "description": N_("what and why"), "example_rows": N_("example rows"),
    "dropped": N_("dropped"), "fixed": N_("fixed"), "kept": N_("kept"),
    "interactions": N_("interactions"), "users": N_("users"), "items": N_("items"),
}


def report_text(report: Any) -> str:
    """The cleaning report as a table in the current language (headers, actions and table names)."""
    frame = report.to_frame()
    words = {k: _(v) for k, v in REPORT_WORDS.items()}
    for column in ("table", "action"):
        frame[column] = frame[column].map(lambda v: words.get(v, v))  # a handful of steps
    return frame.rename(columns=words).to_string(index=False)



# ---------------------------------------------------------------------------- append
def _append_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    p.add_argument("--dataset", required=True, help=_("dataset id to add the data to (see `promolens datasets`)"))
    p.add_argument("--interactions", type=Path, default=None, help=_("new interactions (same columns as the import)"))
    p.add_argument("--users", type=Path, default=None, help=_("new or changed customers (every customer column)"))
    p.add_argument("--items", type=Path, default=None, help=_("new or changed offers (every offer column)"))
    p.add_argument("--name", default=None, help=_("a name for this batch (default: the file names)"))
    p.add_argument("--json", action="store_true", help=_("print the append's record as JSON"))


def cmd_append(args: argparse.Namespace) -> int:
    from recsys.workspace.ingest import append_files

    if args.interactions is None and args.users is None and args.items is None:
        print(_("Nothing to append: give --interactions, --users and/or --items."), file=sys.stderr)
        return EXIT_BAD_INPUT
    ws = _workspace(args)
    record, prepared = append_files(
        ws, args.dataset, args.interactions, args.users, args.items, name=args.name,
    )
    if args.json:
        _print_json({"append": record, "dataset": ws.dataset(args.dataset).to_dict()})
        return 0
    info = ws.dataset(args.dataset)
    print(fill(_("Appended batch {seq} '{name}' to dataset {id} '{dataset}': {rows} interactions, {new_users} new "
                 "customers, {new_items} new offers, {updated_users} customers and {updated_items} offers with new "
                 "facts."), seq=record["seq"], name=record["name"], id=info.id, dataset=info.name,
               rows=f"{record['n_rows']:,}", new_users=f"{record['n_new_users']:,}",
               new_items=f"{record['n_new_items']:,}", updated_users=f"{record['n_updated_users']:,}",
               updated_items=f"{record['n_updated_items']:,}"))
    if record["first_event"] is not None:
        print(fill(_("Events from {first} to {last}."), first=f"{record['first_event']:%Y-%m-%d %H:%M}",
                   last=f"{record['last_event']:%Y-%m-%d %H:%M}"))
    print(fill(_("The dataset now has {interactions} interactions, {customers} customers and {offers} offers "
                 "(version {version})."), interactions=f"{info.n_interactions:,}", customers=f"{info.n_users:,}",
               offers=f"{info.n_items:,}", version=info.version))
    print(_("Cleaning report:"))
    print(report_text(prepared.report))
    for warning in prepared.warnings:
        print(fill(_("warning: {warning}"), warning=warning))
    return 0


# ---------------------------------------------------------------------------- datasets
def _datasets_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    p.add_argument("--json", action="store_true", help=_("print JSON"))


def cmd_datasets(args: argparse.Namespace) -> int:
    infos = _workspace(args).datasets()
    if args.json:
        _print_json([i.to_dict() for i in infos])
        return 0
    if not infos:
        print(_("No datasets yet. Import one with `promolens import --interactions FILE`."))
    for i in infos:
        print("\t".join([i.id, i.name, fill(_("{n} interactions"), n=f"{i.n_interactions:,}"),
                         fill(_("{n} customers"), n=f"{i.n_users:,}"), fill(_("{n} offers"), n=f"{i.n_items:,}"),
                         fill(ngettext("{n} append", "{n} appends", i.version), n=i.version),
                         f"{i.created_at:%Y-%m-%d %H:%M}"]))
    return 0



# ---------------------------------------------------------------------------- train / runs
def _train_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    p.add_argument("--dataset", required=True, help=_("dataset id (see `promolens datasets`)"))
    p.add_argument("--split", choices=["temporal", "leave_last_n", "random", "cold_items"], default="temporal")
    p.add_argument("--test-share", type=float, default=0.2, help=_("share held out for testing"))
    p.add_argument("--cutoff", default=None, help=_("temporal split: rows after this date are test"))
    p.add_argument("--epochs", type=int, default=30, help=_("maximum epochs (early stopping may stop sooner)"))
    p.add_argument("--loss", choices=["warp", "bpr", "logistic", "warp-kos"], default="warp")
    p.add_argument("--components", type=int, default=32, help=_("embedding size"))
    p.add_argument("--learning-rate", type=float, default=None,
                   help=_("LightFM step size (default: ModelConfig's, the one default everywhere)"))
    p.add_argument("--alpha", type=float, default=0.0, help=_("L2 penalty on user and item embeddings"))
    p.add_argument("--k", type=int, default=10, help=_("list length for precision@k, NDCG@k, ..."))
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--include-sensitive", action="store_true", help=_("use sensitive columns (gender, age, ...) as features"))
    p.add_argument("--user-columns", nargs="*", default=None, help=_("customer columns to use as features (default: all usable)"))
    p.add_argument("--item-columns", nargs="*", default=None, help=_("offer columns to use as features (default: all usable)"))
    p.add_argument("--half-life-days", type=float, default=None, help=_("weight recent events more (time decay)"))
    p.add_argument("--no-refit", action="store_true", help=_("keep the evaluated model instead of refitting on all data"))
    p.add_argument("--tune", action="store_true",
                   help=_("first search the model's settings on the validation slice (learning rate, size, loss, "
                        "normalisation, event weights, time decay), then train with the best"))
    p.add_argument("--budget-minutes", type=float, default=5.0, help=_("time budget of --tune (default 5 minutes)"))
    p.add_argument("--serve", choices=("validated", "hybrid"), default="validated",
                   help=_("the run's serving model: the one validation chose (default; a baseline such as EASE when it "
                        "beats the hybrid) or the hybrid (switch later with promolens serve)"))
    p.add_argument("--json", action="store_true", help=_("print JSON"))


def train_config_from_args(args: argparse.Namespace):  # noqa: ANN201 - pipeline.TrainConfig
    from recsys.learn.config import FeatureConfig, InteractionConfig
    from recsys.learn.config import ModelConfig
    from recsys.learn.pipeline import TrainConfig
    from recsys.learn.split import SplitConfig

    learning_rate = ModelConfig().learning_rate if args.learning_rate is None else args.learning_rate
    return TrainConfig(
        split=SplitConfig(kind=args.split, test_share=args.test_share, cutoff=args.cutoff),
        interactions=InteractionConfig(half_life_days=args.half_life_days),
        features=FeatureConfig(include_sensitive=args.include_sensitive),
        model=ModelConfig(
            loss=args.loss, no_components=args.components, learning_rate=learning_rate,
            item_alpha=args.alpha, user_alpha=args.alpha, epochs=args.epochs,
        ),
        k=args.k, seed=args.seed,
    )


def cmd_train(args: argparse.Namespace) -> int:
    from recsys.workspace import runs

    try:
        config = train_config_from_args(args)
        config.validate()
    except ValueError as exc:
        print(fill(_("Bad training settings: {error}"), error=exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    ws = _workspace(args)
    progress = _progress_printer(quiet=args.json)

    try:
        run_id = runs.train_run(
            ws, args.dataset, config, refit_all=not args.no_refit, user_columns=args.user_columns,
            item_columns=args.item_columns, progress=progress,
            tune_minutes=args.budget_minutes if args.tune else None,
        )
    except ValueError as exc:
        print(fill(_("Training stopped: {error}"), error=exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.serve == "hybrid" and runs.get_run(ws, run_id).serving_model != "hybrid":
        from recsys.workspace.serving import set_serving

        set_serving(ws, run_id, "hybrid")
    run = ws.run(run_id)
    record = runs.RunRecord.from_row(run)
    metrics = runs.metrics_frame(run)
    words = runs.verdict(metrics, config.k, config.split.kind, record.comparisons, record.validation_choice)
    if args.json:
        extra = run.get("extra") or {}
        _print_json({"run_id": run_id, "metrics": run["metrics"], "timings": run["timings"], "split": run["split"],
                     "validation": extra.get("validation"), "validation_metric": extra.get("validation_metric"),
                     "validation_choice": record.validation_choice, "tuned": extra.get("tuned"),
                     "comparisons": extra.get("comparisons"), "verdict": words, "tuning": extra.get("tuning"),
                     "targeting": extra.get("targeting"), "serving_model": record.serving_model,
                     "validated_model": extra.get("validated_model"),
                     "validated_targeting": extra.get("validated_targeting")})
        return 0
    print(f"Run {run_id} on dataset {args.dataset}")
    print(metrics.round(4).to_string())
    print(words)
    words = runs.targeting_statement(runs.RunRecord.from_row(run).targeting)
    for line in (words.headline, words.lift, words.calibration, words.note):
        if line:
            print(line)
    print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in run["timings"].items()))
    return 0


def _runs_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    p.add_argument("--dataset", default=None, help=_("only runs of this dataset"))
    p.add_argument("--compare", nargs="+", default=None, metavar="RUN", help=_("compare these runs side by side"))
    p.add_argument("--delete", default=None, metavar="RUN", help=_("delete this run and its model"))
    p.add_argument("--json", action="store_true", help=_("print JSON"))


def cmd_runs(args: argparse.Namespace) -> int:
    from recsys.workspace import runs

    ws = _workspace(args)
    if args.delete:
        ws.delete_run(args.delete)
        print(fill(_("Deleted run {run}."), run=args.delete))
        return 0
    if args.compare:
        table = runs.compare(ws, args.compare)
        if args.json:
            _print_json(json.loads(table.to_json(orient="index")))
        else:
            print(table.T.to_string())
        return 0
    records = ws.runs(args.dataset)
    if args.json:
        _print_json(records)
        return 0
    if not records:
        print(_("No runs yet. Train one with `promolens train --dataset ID`."))
    by_id = {r["id"]: r for r in records}
    for summary in runs.summaries(ws, args.dataset):
        p = summary.headline(f"precision@{summary.k}")
        print(f"{summary.id}\t{summary.dataset_id}\t{summary.split}\tprecision@{summary.k} "
              f"{'n/a' if p is None else f'{p:.4f}'}\t{summary.created_at:%Y-%m-%d %H:%M}\t"
              f"{runs.run_data(ws, by_id[summary.id]).describe()}")
    return 0


# ---------------------------------------------------------------------------- update / freshness
def _update_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    p.add_argument("--run", required=True, help=_("the run whose model to update (see `promolens runs`)"))
    p.add_argument("--dataset", default=None,
                   help=_("dataset with the new data (default: the run's own; its appends since the run are used)"))
    p.add_argument("--epochs", type=int, default=None, help=_("training passes over the new events (default 5)"))
    p.add_argument("--replay", type=float, default=None, help=_("old events replayed per new event (default 1.0)"))
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--json", action="store_true", help=_("print JSON"))


def cmd_update(args: argparse.Namespace) -> int:
    from recsys.learn.update import UpdateConfig
    from recsys.workspace import update

    defaults = UpdateConfig()
    config = UpdateConfig(
        epochs=defaults.epochs if args.epochs is None else args.epochs,
        replay_ratio=defaults.replay_ratio if args.replay is None else args.replay, seed=args.seed,
    )
    try:
        config.validate()
    except ValueError as exc:
        print(f"Bad update settings: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    ws = _workspace(args)
    progress = _progress_printer(quiet=args.json)

    try:
        run_id = update.update_run(ws, args.run, args.dataset, config, progress=progress)
    except ValueError as exc:
        print(f"Update stopped: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    run = ws.run(run_id)
    extra = run["extra"]
    if args.json:
        _print_json({"run_id": run_id, "parent_run": args.run, "dataset_id": run["dataset_id"],
                     "dataset_version": extra["dataset_version"], "update": extra["update"],
                     "freshness_before_update": extra["freshness_before_update"]})
        return 0
    u, before = extra["update"], extra["freshness_before_update"]
    print(f"Run {run_id}: run {args.run} updated with {u['new_rows']:,} new events "
          f"(+{u['replay_rows']:,} replayed), {u['epochs']} epochs in {u['seconds']:.1f} s.")
    print(f"New customers trained on: {u['new_warm_users']:,}; new offers: {u['new_warm_items']:,}; "
          f"new customer facts: {u['new_user_features']:,}; new offer facts: {u['new_item_features']:,}.")
    if before.get("precision_new") is not None:
        print(f"Before the update, on the new events: precision@{before['k']} {before['precision_new']:.4f} "
              f"(most popular: {before['popularity_precision_new']:.4f}).")
    return 0


def _freshness_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    p.add_argument("--run", required=True, help=_("the run to check (see `promolens runs`)"))
    p.add_argument("--dataset", default=None, help=_("dataset with the new data (default: the run's own appends)"))
    p.add_argument("--k", type=int, default=None, help=_("list length (default: the run's k)"))
    p.add_argument("--json", action="store_true", help=_("print JSON"))


def cmd_freshness(args: argparse.Namespace) -> int:
    from recsys.workspace import update

    ws = _workspace(args)
    try:
        report = update.freshness_report(ws, args.run, args.dataset, k=args.k)
    except ValueError as exc:
        print(f"Freshness check stopped: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        _print_json({"run_id": args.run, **report.to_dict(), "summary": report.summary()})
        return 0
    print(f"Run {args.run}: {report.new_events:,} new events since training, "
          f"{report.eval_users:,} customers with a new response.")
    if report.precision_new is not None:
        at_training = "n/a" if report.precision_at_training is None else f"{report.precision_at_training:.4f}"
        print(f"precision@{report.k} on the new events {report.precision_new:.4f} (at training: {at_training}); "
              f"most popular {report.popularity_precision_new:.4f}.")
    print(report.summary())
    return 0


# ---------------------------------------------------------------------------- measure
def _measure_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--export", metavar="ID", help=_("a past export: its treatment vs its control customers"))
    source.add_argument("--data", type=Path, metavar="FILE", help=_("any results table with an arm column"))
    p.add_argument("--outcomes", type=Path, metavar="FILE", help=_("with --export: customer id + outcome columns"))
    p.add_argument("--user-column", default=None, help=_("with --export: customer-id column of --outcomes (default: guessed)"))
    p.add_argument("--arm", metavar="COLUMN", help=_("with --data: the column naming each row's arm"))
    p.add_argument("--control", metavar="VALUE", help=_("with --data: the control arm's value"))
    p.add_argument("--outcome", action="append", required=True, metavar="COLUMN", help=_("outcome column (repeatable)"))
    p.add_argument("--score", metavar="COLUMN", help=_("with --data: model-score column (adds lift by score decile)"))
    p.add_argument("--offer", metavar="COLUMN", help=_("with --data: offer column (deciles within offer, lift per offer)"))
    p.add_argument("--alpha", type=float, default=0.05, help=_("1 - confidence level (default 0.05: 95%% intervals)"))
    p.add_argument("--save", action="store_true", help=_("with --data: record the measurement in the workspace"))
    p.add_argument("--json", action="store_true", help=_("print the result as JSON"))


def cmd_measure(args: argparse.Namespace) -> int:
    from recsys.campaign import measure
    from recsys.data.files import ReadLimits
    from recsys.data.mapping import guess_mapping
    from recsys.data.read import read_table
    from recsys.workspace import exports

    measurement_id = None
    if args.export:
        if args.outcomes is None:
            print("--export needs --outcomes FILE: the customer ids and outcome columns to measure.", file=sys.stderr)
            return EXIT_BAD_INPUT
        ws = _workspace(args)
        record = ws.export(args.export)
        targets = exports.load_targets(ws, args.export)

        def id_columns(header: Sequence[str]) -> list[str]:
            guessed = guess_mapping(list(header), C.Table.USERS).get(C.USER_ID)
            return [c for c in (args.user_column, guessed) if c]

        outcomes = read_table(args.outcomes, limits=ReadLimits.from_env(), text_columns=id_columns)
        planned = (record.get("manifest") or {}).get("params", {}).get("spec", {}).get("holdout_share")
        result = measure.measure_export(
            targets, outcomes, args.outcome, user_column=args.user_column, planned_share=planned,
            alpha=args.alpha, source=args.outcomes.name, export_id=args.export,
        )
        measurement_id = ws.save_measurement(result.params, result.to_dict(), export_id=args.export)
        from recsys.workspace.uplift import record_export_outcomes

        record_export_outcomes(ws, args.export, targets, outcomes, args.outcome[0], result.params["user_column"])
    else:
        if not args.arm or args.control is None:
            print("--data needs --arm COLUMN and --control VALUE, e.g. --arm segment --control 'No E-Mail'.", file=sys.stderr)
            return EXIT_BAD_INPUT
        frame = read_table(args.data, limits=ReadLimits.from_env())
        result = measure.measure(
            frame, args.arm, args.control, args.outcome, score=args.score, offer=args.offer,
            alpha=args.alpha, source=args.data.name,
        )
        if args.save:
            measurement_id = _workspace(args).save_measurement(result.params, result.to_dict())
    if args.json:
        _print_json({"measurement_id": measurement_id, **result.to_dict()})
        return 0
    print(measure.format_report(result))
    if measurement_id:
        print(f"\nRecorded as measurement {measurement_id}.")
    return 0


# ---------------------------------------------------------------------------- segments
def _segments_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    p.add_argument("--dataset", required=True, help=_("dataset id"))
    how = p.add_mutually_exclusive_group()
    how.add_argument("--rfm", action="store_true", help=_("RFM segments: recency, frequency, monetary value (default)"))
    how.add_argument("--by", nargs="+", metavar="COLUMN", help=_("segments by one or more customer columns"))
    how.add_argument("--clusters", nargs="?", const="auto", metavar="K",
                     help=_("behavioural clusters of the model's customer embeddings (K clusters, or auto: silhouette)"))
    how.add_argument("--list", action="store_true", help=_("list the dataset's saved segments"))
    how.add_argument("--delete", metavar="SEGMENT_ID", help=_("delete a saved segment"))
    p.add_argument("--run", default=None, help=_("model run for --clusters (default: the dataset's newest run)"))
    p.add_argument("--reference-date", default=None, help=_("RFM as of this day, YYYY-MM-DD (default: the day after the last interaction)"))
    p.add_argument("--seed", type=int, default=0, help=_("seed of the clustering"))
    p.add_argument("--save", metavar="SEGMENT", default=None, help=_("save this segment's members, e.g. --save champions"))
    p.add_argument("--name", default=None, help=_("name of the saved segment (default: the segment's label)"))
    p.add_argument("--json", action="store_true", help=_("print JSON"))


def cmd_segments(args: argparse.Namespace) -> int:
    from recsys.workspace import segments

    ws = _workspace(args)
    ws.dataset(args.dataset)
    if args.list or args.delete:
        if args.delete:
            segments.delete_segment(ws, args.delete)
            print(f"Deleted segment {args.delete}.")
            return 0
        table = segments.saved_segments(ws, args.dataset)
        if args.json:
            _print_json(table.to_dict("records"))
        else:
            print(table.to_string(index=False) if not table.empty else "No saved segments yet.")
        return 0
    method = "clusters" if args.clusters else "columns" if args.by else "rfm"
    try:
        k = None if args.clusters in (None, "auto") else int(args.clusters)
        result = segments.segment_dataset(
            ws, args.dataset, method, columns=args.by, k=k, run_id=args.run,
            reference_date=args.reference_date, seed=args.seed,
        )
        summary = segments.report(ws, args.dataset, result)
        if args.save is not None:
            members = result.segmentation.members(args.save)
            definition = {**result.segmentation.definition, "segment": args.save}
            summary["saved_segment_id"] = segments.save_segment(ws, args.dataset, args.name or args.save, members, definition)
    except ValueError as exc:
        print(f"Cannot segment: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        _print_json(summary)
        return 0
    print(f"{len(summary['segments'])} segments of {summary['customers']:,} customers ({method})")
    for note in summary["notes"]:
        print(f"note: {note}")
    if "rfm" in summary:
        print(f"RFM as of {summary['rfm']['reference_date']} (conversions: {summary['rfm']['conversion']})")
    if "clusters" in summary:
        c = summary["clusters"]
        print(f"k = {c['k']}" + (f" (silhouette suggests {c['suggested_k']})" if c["suggested_k"] else ""))
    import pandas as pd

    print(pd.DataFrame(summary["segments"]).to_string(index=False, formatters={"share": "{:.1%}".format}))
    if "saved_segment_id" in summary:
        print(f"Saved segment {summary['saved_segment_id']}.")
    return 0


# ---------------------------------------------------------------------------- export
def _export_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    p.add_argument("--run", required=True, help=_("model run whose production model scores the customers (see `promolens runs`)"))
    p.add_argument("--item", action="append", required=True, metavar="ITEM", help=_("offer id to target (repeatable)"))
    p.add_argument("--top", type=int, default=None, metavar="N", help=_("at most N coupons per offer"))
    p.add_argument("--budget", type=int, default=None, metavar="N", help=_("at most N coupons in the whole campaign"))
    p.add_argument("--money-budget", type=float, default=None, metavar="AMOUNT",
                   help=_("at most this much money in the whole campaign (needs --cost-column)"))
    p.add_argument("--cost-column", default=None, metavar="COLUMN", help=_("offers column with the cost of one coupon"))
    p.add_argument("--cost-percent-of", default=None, metavar="COLUMN",
                   help=_("--cost-column is a percentage of this offers column (e.g. discount_depth of min_spend)"))
    p.add_argument("--min-probability", "--min-score", dest="min_score", type=float, default=None, metavar="P",
                   help=_("only pairs with a response probability of at least P (0-1, e.g. 0.05 = 5%%); runs trained "
                        "before response probabilities: a raw model score"))
    p.add_argument("--cap", type=int, default=1, metavar="C", help=_("at most C coupons per customer across offers (default 1)"))
    p.add_argument("--holdout", type=float, default=0.1, metavar="SHARE",
                   help=_("share of customers held out as a control group: no coupon, to measure the lift (default 0.1)"))
    p.add_argument("--seed", type=int, default=0, help=_("seed of the control group draw"))
    p.add_argument("--segment", action="append", default=[], metavar="ID", help=_("only members of this saved segment (repeatable: any of them)"))
    p.add_argument("--filter", nargs=3, action="append", default=[], metavar=("COLUMN", "OP", "VALUE"),
                   help=_("customer filter, e.g. --filter region in north,south or --filter age '>=' 30 "
                        "(ops: in, not_in, ==, !=, >, >=, <, <=, between; lists comma-separated) (repeatable)"))
    p.add_argument("--active-since", default=None, metavar="DATE", help=_("only customers with an interaction on or after this date"))
    p.add_argument("--exclude-contacted-days", type=int, default=None, metavar="N",
                   help=_("leave out customers who received a coupon in the last N days (impressions and recent exports)"))
    p.add_argument("--as-of", default=None, metavar="DATE",
                   help=_("campaign day: offers must be live on it, probabilities are as of it, and it is the reference of "
                        "'the last N days' (default: the data's last day)"))
    p.add_argument("--keep-redeemed", action="store_true", help=_("also target customers who already redeemed the offer"))
    p.add_argument("--all-offers", action="store_true", help=_("also allow offers that are not live on the campaign day"))
    p.add_argument("--ab", action="store_true",
                   help=_("A/B test: the --item offers are arms; every customer of the audience gets exactly one of them "
                        "at random (seeded, stratified by score) and --holdout of each arm is the control group; the "
                        "CSV's arm column names each customer's arm (`promolens measure` reads it)"))
    p.add_argument("--arm-shares", type=float, nargs="+", default=[], metavar="W",
                   help=_("with --ab: relative sizes of the arms, one per --item in order (default equal)"))
    p.add_argument("--reasons", type=int, default=2, metavar="N", help=_("top reasons per row (0 = none; default 2)"))
    p.add_argument("--reasons-view", default="customer", help=_("what the reasons explain: customer (default), score or offer"))
    p.add_argument("--out", type=Path, required=True, metavar="FILE.csv", help=_("where to write a copy of the targeting CSV"))
    p.add_argument("--check-fairness", action="append", default=[], metavar="COLUMN",
                   help=_("print the share of each group of this customer column that is targeted, with the "
                        "four-fifths rule (repeatable; sensitive columns welcome)"))
    p.add_argument("--objective", choices=("response", "uplift", "profit"), default="response",
                   help=_("what the list maximises: response (chance to respond if sent, default), uplift (the change "
                        "the coupon makes, learned from past control groups) or profit (expected incremental profit: "
                        "uplift x margin - discount paid by every redeemer); uplift/profit never send a coupon of "
                        "negative expected value"))
    p.add_argument("--margin-rate", type=float, default=0.5, metavar="RATE", help=_("gross margin for --objective profit (0-1, default 0.5)"))
    p.add_argument("--margin-column", default=None, metavar="C", help=_("offers column of margin rates (instead of --margin-rate)"))
    p.add_argument("--depth-column", default="discount_depth", metavar="C",
                   help=_("offers column with the discount in percent of the order (default discount_depth)"))
    p.add_argument("--past-campaigns", default=None, metavar="FILE",
                   help=_("past exports with outcomes to learn the uplift from (user_id, item_id, group, sent_date, "
                        "converted; the sample dataset has its own)"))
    p.add_argument("--currency", default=None, metavar="SYMBOL",
                   help=_("currency of the money printed, e.g. '£' or EUR (default: $PROMOLENS_CURRENCY, else none)"))
    p.add_argument("--json", action="store_true", help=_("print the manifest as JSON"))


def export_request_from_args(args: argparse.Namespace):  # noqa: ANN201 - campaign.CampaignRequest
    """The :class:`recsys.workspace.campaign.CampaignRequest` of ``promolens export`` arguments."""
    from recsys.workspace.campaign import CampaignRequest, parse_filter
    from recsys.campaign.spec import AudienceSpec

    spec = AudienceSpec(
        offers=tuple(args.item), segments=tuple(args.segment),
        user_filters=tuple(parse_filter(*f) for f in args.filter), active_since=args.active_since,
        exclude_contacted_days=args.exclude_contacted_days, exclude_redeemed=not args.keep_redeemed,
        as_of=args.as_of, top_n=args.top, total_coupons=args.budget, total_budget=args.money_budget,
        cost_column=args.cost_column, min_score=args.min_score, max_per_customer=args.cap,
        holdout_share=args.holdout, seed=args.seed,
    )
    return CampaignRequest(args.run, spec, cost_percent_of=args.cost_percent_of, reasons=args.reasons,
                           reasons_view=args.reasons_view, all_offers=args.all_offers,
                           objective=getattr(args, "objective", "response"), margin_rate=getattr(args, "margin_rate", 0.5),
                           margin_column=getattr(args, "margin_column", None),
                           depth_column=getattr(args, "depth_column", "discount_depth"),
                           past_campaigns=getattr(args, "past_campaigns", None),
                           ab_test=bool(getattr(args, "ab", False)), arm_shares=tuple(getattr(args, "arm_shares", ()) or ()))


def cmd_export(args: argparse.Namespace) -> int:
    from recsys.core.money import default_currency, format_money
    from recsys.insight.recommend import PROBABILITY
    from recsys.workspace import campaign
    from recsys.workspace.store import NotFound

    progress = _progress_printer(quiet=args.json)

    try:
        request = export_request_from_args(args)
        ws = _workspace(args)
        built = campaign.build_campaign(ws, request, progress=progress)
        checks = []
        if args.check_fairness:
            dataset = ws.load_dataset(built.dataset_id)
            base = campaign.customer_universe(dataset)
            checks = [campaign.selection_by_group(built, dataset.users, column, base) for column in args.check_fairness]
        result = campaign.export_campaign(ws, built, out=args.out)
    except NotFound as exc:
        print(f"Cannot export: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as exc:  # CampaignError, TargetingError, ExportError, ModelFileError
        print(f"Cannot export: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    expected = built.expected_responders()
    if args.json:
        fairness = {c.column: c.table.to_dict("records") for c in checks}
        frame = built.audience.frame
        probability = None
        if built.has_probability:
            p = frame[PROBABILITY]
            probability = {"horizon_days": built.horizon_days, "min": float(p.min()) if len(p) else None,
                           "mean": float(p.mean()) if len(p) else None, "max": float(p.max()) if len(p) else None,
                           "expected_responders": expected.to_dict("records")}
        _print_json({"export_id": result.export_id, "csv": str(args.out), "manifest": result.manifest,
                     "objective": args.objective, "roi": None if built.roi is None else built.roi.to_dict(),
                     "ranked_by": "response probability" if built.has_probability else "raw model score",
                     "scored_by": built.scored_by,
                     "campaign_day": built.campaign_day, "probability": probability, "fairness": fairness,
                     "currency": args.currency if args.currency is not None else default_currency()})
        return 0
    summary = built.summary()
    print(f"Exported {result.export_id}: {summary['coupons']:,} coupons to send to {summary['treatment_customers']:,} "
          f"customers; {summary['control_customers']:,} control customers get NO coupon (they measure the lift).")
    by_offer = expected.set_index(C.ITEM_ID) if len(expected) else None
    if built.request.ab_test:
        print(f"A/B test: {len(built.request.spec.offers)} arms; each customer gets exactly one (column '{C.ARM}' of the CSV).")
    for row in built.sizes().itertuples(index=False):
        line = f"  {row.item_id}\t{row.offer}\t{row.treatment:,} treatment\t{row.control:,} control"
        if by_offer is not None:
            e = by_offer.loc[str(row.item_id)]
            line += f"\texpected responders {e[campaign.EXPECTED]:,.0f} [{e[campaign.EXPECTED_LOW]:,.0f}-{e[campaign.EXPECTED_HIGH]:,.0f}]"
        print(line)
    if summary[campaign.EXPECTED] is not None:
        print(f"Expected responders within {built.horizon_days} days of the campaign day {built.campaign_day}: "
              f"{summary[campaign.EXPECTED]:,.0f} (95% interval {summary[campaign.EXPECTED_LOW]:,.0f}-"
              f"{summary[campaign.EXPECTED_HIGH]:,.0f}), customers ranked by their response probability.")
    if summary["money"] is not None:
        print(f"Cost of the coupons sent: {format_money(summary['money'], getattr(args, 'currency', None))}")
    if built.roi is not None:
        print(format_roi(built.roi))
    for note in built.notes:
        print(f"note: {note}")
    for check in checks:
        print(f"\nTargeted share by {check.column} (base: every customer of the dataset):")
        print(check.table.to_string(index=False, formatters={
            campaign.RATE: "{:.1%}".format, campaign.RATIO: "{:.2f}".format,
            campaign.SHARE_OF_BASE: "{:.1%}".format, campaign.SHARE_TARGETED: "{:.1%}".format,
        }))
        for message in check.messages:
            print(message.replace("**", ""))
    print(f"CSV: {args.out} (sha256 {result.manifest['csv']['sha256']})")
    print(f"Recorded in the workspace: {result.directory} (manifest.json)")
    return 0


# ---------------------------------------------------------------------------- recommend
def _recommend_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    p.add_argument("--run", required=True, help=_("model run id (see `promolens runs`)"))
    p.add_argument("--user", required=True, help=_("customer id"))
    p.add_argument("-k", type=int, default=10, help=_("number of offers (default 10)"))
    p.add_argument("--explain", action="store_true", help=_("add every offer's exact attributions and its baseline"))
    p.add_argument(  # the choices of recsys.insight.attribution.VIEWS / recommend.EXCLUDE_CHOICES (kept literal: lazy imports)
        "--view", choices=("offer", "score", "customer"), default="offer",
        help=_("compare each score with: this customer and the average offer (default, what ranks the list), "
             "the average customer and offer (the whole score), or the average customer with this offer"),
    )
    p.add_argument("--exclude", choices=("redeemed", "responded", "none"), default="redeemed",
                   help=_("leave out offers the customer already redeemed (default), responded to in any way, or none"))
    p.add_argument("--as-of", "--active-on", dest="as_of", default=None, metavar="DATE",
                   help=_("campaign day: only offers live on DATE, probabilities as of DATE (default: the data's last day)"))
    p.add_argument("--all-offers", action="store_true", help=_("also list offers that are not live on the campaign day"))
    p.add_argument("--model", choices=("production", "validated", "hybrid"), default="production",
                   help=_("the run's serving model (default: its best validated model unless switched to the hybrid with "
                        "promolens serve), its best validated model (EASE / item-kNN lists come with each history "
                        "offer's exact share), or the hybrid"))
    p.add_argument("--json", action="store_true", help=_("print JSON"))


def cmd_recommend_validated(args: argparse.Namespace) -> int | None:
    """``recommend`` when a validated baseline serves (or is asked for); None: the hybrid serves."""
    from recsys.insight.recommend import parse_day
    from recsys.workspace import runs, serving
    from recsys.workspace.store import NotFound

    try:
        ws = _workspace(args)
        which = serving.serving_choice(ws, args.run) if args.model == "production" else args.model
        if which == "hybrid" or serving.validated_name(ws, args.run) is None:
            return None
        dataset = ws.load_dataset(ws.run(args.run)["dataset_id"])
        day = parse_day(args.as_of) if args.as_of is not None else None
        if day is None and not args.all_offers:
            from recsys.insight.recommend import default_campaign_day

            day = default_campaign_day(dataset)
        listed = serving.served_recommendations(ws, args.run, dataset, args.user, k=args.k, exclude=args.exclude,
                                                active_on=None if args.all_offers else day)
    except (NotFound, ValueError) as exc:
        print(f"Cannot recommend: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    reco = listed.recommendations
    label = runs.MODEL_LABELS.get(listed.model, listed.model)
    from recsys.workspace.audit import saved_rerank

    rerank_note = (None if saved_rerank(ws, args.run) is None else
                   f"this run's saved fairness re-ranking changes the hybrid's lists, not {label}'s: to list with it, "
                   f"serve the hybrid (promolens serve {args.run} hybrid) or add --model hybrid")
    if args.json:
        _print_json({"run_id": args.run, "model": listed.model, "user_id": args.user, "horizon_days": listed.horizon_days,
                     "probability_note": listed.note, "rerank_note": rerank_note, "offers": reco.to_dict(orient="records")})
        return 0
    print(f"Top {len(reco)} for customer {args.user} from {label} (the run's best validated model, serving)")
    explain_note = (f"--explain: each reason is already the exact share of {label}'s score; for the hybrid's explanations "
                    "(the Recommendations page's comparison), add --model hybrid") if args.explain else None
    for text in (listed.note, rerank_note, explain_note):
        if text:
            print(f"note: {text}")
    print(reco.to_string(index=False))
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    served = cmd_recommend_validated(args)
    if served is not None:
        return served
    from recsys.insight.attribution import ScoreExplainer
    from recsys.insight.recommend import (
        default_campaign_day, parse_day, recommend_for_customer, recommendations_report,
    )
    from recsys.workspace import runs
    from recsys.insight.chance import explained_report, explanation_lines
    from recsys.workspace.recommend import response_scorer, saved_rerank_hook, with_chances
    from recsys.workspace.store import NotFound

    try:
        ws = _workspace(args)
        dataset = ws.load_dataset(ws.run(args.run)["dataset_id"])
        explainer = ScoreExplainer(runs.load_model(ws, args.run))
        day = parse_day(args.as_of) if args.as_of is not None else default_campaign_day(dataset)
        rerank, pool, _hook = saved_rerank_hook(ws, args.run, args.k, model=explainer.model, dataset=dataset)
        listed = recommend_for_customer(
            explainer, args.user, dataset, k=args.k, exclude=args.exclude,
            active_on=None if args.all_offers else day, view=args.view, rerank=rerank, pool=pool,
        )
        rm, ctx, note = response_scorer(ws, args.run, dataset, explainer.model, day)
    except (NotFound, ValueError) as exc:  # unknown run / customer, bad date, no live offer, damaged model file
        print(f"Cannot recommend: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if rm is not None:
        listed = with_chances(listed, rm, ctx)
    report = recommendations_report(listed, dataset.items, attributions=args.explain)
    report = explained_report(report, listed, explainer, rm, ctx) if args.explain else report  # the page's units
    horizon = None if rm is None else rm.config_.horizon_days
    report.update({"as_of": None if day is None else str(day.date()), "horizon_days": horizon, "probability_note": note})
    if args.json:
        _print_json({"run": args.run, **report})
        return 0
    base = report["baseline"]
    when = "" if day is None else f"; offers live on {day.date()}" + (" and later/earlier ones" if args.all_offers else "")
    print(f"Top {len(report['recommendations'])} offers for customer {args.user} (run {args.run}{when}); "
          f"scores compared with {base['compared_with']}" + ("" if base["score"] is None or rm is not None else f" = {base['score']:.4f}"))
    if note:
        print(f"note: {note}")
    for row in report["recommendations"]:
        chance = f"  {100 * row['probability']:.1f}% likely to redeem within {horizon} days" if "probability" in row else ""
        score = "" if chance else f"  score {row['score']:.4f}"  # with a chance, the raw score is in --json only
        print(f"{row['rank']:>3}  {row['item_id']}  {row['offer']}{chance}{score}  because {row['reason']}")
        for line in explanation_lines(row) if args.explain else []:
            print(line)
    return 0
    base = report["baseline"]
    print(f"Top {len(report['recommendations'])} offers for customer {args.user} (run {args.run}); "
          f"scores compared with {base['compared_with']}" + ("" if base["score"] is None else f" = {base['score']:.4f}"))
    for row in report["recommendations"]:
        print(f"{row['rank']:>3}  {row['item_id']}  {row['offer']}  score {row['score']:.4f}  because {row['reason']}")
        for part in row.get("attributions", []):
            print(f"       {part['value']:+.4f}  {part['name']} ({part['side']})")
    return 0


# ---------------------------------------------------------------------------- audit
def _audit_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    p.add_argument("--run", required=True, help=_("model run to audit (see `promolens runs`)"))
    p.add_argument("--by", required=True, metavar="COLUMN", help=_("customers column to group by, e.g. age_band (sensitive columns allowed)"))
    p.add_argument("--items-by", default=None, metavar="COLUMN", help=_("offers column for exposure by offer group (default: category)"))
    p.add_argument("--favourable", default=None, metavar="RULE",
                   help=_("which offers are favourable: COLUMN>=NUMBER, COLUMN<=NUMBER or COLUMN=V1,V2 (default: discount_depth>=30)"))
    p.add_argument("--offer-k", type=int, default=3, metavar="N", help=_("offers per customer judged by the four-fifths rule (default 3)"))
    p.add_argument("--k", type=int, default=None, help=_("list length of accuracy and list metrics (default: the run's)"))
    p.add_argument("--max-users", type=int, default=20_000, help=_("audit a seeded sample of at most this many customers"))
    p.add_argument("--seed", type=int, default=0, help=_("seed of the sample and the bootstrap"))
    p.add_argument("--with-rerank", action="store_true", help=_("audit the lists after the run's saved re-ranking"))
    p.add_argument("--tradeoff", choices=["boost", "cap", "mmr"], default=None,
                   help=_("also draw the re-ranking trade-off (held-out accuracy against parity / diversity) at strengths 0..1"))
    p.add_argument("--boost-for", default=None, metavar="V1,V2",
                   help=_("with --tradeoff boost: groups of --by to boost (default: the flagged groups; '' = everyone)"))
    p.add_argument("--cap", default=None, metavar="V1,V2", help=_("with --tradeoff cap: values of --items-by to cap (default: the most over-exposed)"))
    p.add_argument("--similarity", choices=["features", "embeddings"], default="features", help=_("with --tradeoff mmr: what similar means"))
    p.add_argument("--save-strength", type=float, default=None, metavar="S",
                   help=_("with --tradeoff: save that re-ranking at strength S with the run (used by recommendations and exports)"))
    p.add_argument("--json", action="store_true", help=_("print the full audit as JSON"))


def cmd_audit(args: argparse.Namespace) -> int:
    from recsys.insight.audit import STRENGTHS, AuditConfig, audit_tradeoff, tradeoff_template
    from recsys.insight.rerank import RerankSettings
    from recsys.insight.rules import ItemRule
    from recsys.workspace import audit as audit_jobs
    from recsys.workspace.store import NotFound

    ws = _workspace(args)
    try:
        rule = ItemRule.parse(args.favourable) if args.favourable else None
        rerank = audit_jobs.saved_rerank(ws, args.run) if args.with_rerank else None
        if args.with_rerank and rerank is None:
            print(f"Run {args.run} has no saved re-ranking: auditing the model's own lists.", file=sys.stderr)
        config = AuditConfig(
            user_column=args.by, item_column=args.items_by, favourable=rule, offer_k=args.offer_k, k=args.k,
            max_users=args.max_users, seed=args.seed, rerank=rerank,
        )
        result = audit_jobs.audit(ws, args.run, config)
        sweep, saved = None, None
        if args.tradeoff:
            dataset = ws.load_dataset(ws.run(args.run)["dataset_id"])
            split = lambda text: None if text is None else [v.strip() for v in text.split(",") if v.strip()]  # noqa: E731
            template, x, _curve = tradeoff_template(result, args.tradeoff, dataset.items, boost_groups=split(args.boost_for),
                                                        cap_values=split(args.cap), similarity=args.similarity)
            strengths = sorted({*STRENGTHS, *([args.save_strength] if args.save_strength is not None else [])})
            sweep = audit_tradeoff(audit_jobs.evaluation_setup(ws, args.run, dataset=dataset), result, template, dataset, strengths)
            if args.save_strength is not None:
                saved = RerankSettings.from_dict({**template.to_dict(), "strength": args.save_strength})
                point = sweep[(sweep["strength"] - args.save_strength).abs() < 1e-9].iloc[0]
                audit_jobs.save_rerank(ws, args.run, saved, evidence=point.to_dict())
        elif args.save_strength is not None:
            raise ValueError("--save-strength needs --tradeoff KIND (which re-ranking to save)")
    except (NotFound, ValueError) as exc:
        print(f"Cannot audit: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        _print_json({**result.to_dict(), "tradeoff": None if sweep is None else json.loads(sweep.to_json(orient="records")),
                     "saved_rerank": None if saved is None else saved.to_dict()})
        return 0
    print(f"Fairness audit of run {args.run}: {result.users:,} customers by {args.by}"
          + (f", favourable = {result.favourable_label}" if result.favourable_label else ""))
    for flag in result.flags:
        print(f"[{flag.severity}] {flag.text}")
    for note in result.notes:
        print(f"note: {note}")
    columns = ["group", "customers", "rate", "ratio", "ratio_low", "ratio_high", "vs_rest", "mean_value", "flagged"]
    for title, table in (("Offered by the model (first %d offers)" % args.offer_k, result.offers),
                         ("Shown in the past (impressions)", result.history_shown)):
        if not table.empty:
            print(f"\n{title}:")
            print(table[[c for c in columns if c in table.columns]].to_string(index=False, float_format="{:.3f}".format))
    if not result.accuracy_gaps.empty:
        print("\nAccuracy gaps (best vs worst group, 95% bootstrap intervals):")
        print(result.accuracy_gaps.to_string(index=False, float_format="{:.3f}".format))
    if not result.offer_groups.empty:
        print("\nExposure by offer group:")
        print(result.offer_groups.to_string(index=False, float_format="{:.3f}".format))
    print("\nList metrics: " + ", ".join(f"{n} {v:.3f}" for n, v in result.list_metrics.items()))
    if sweep is not None:
        print(f"\nTrade-off of '{template.describe()}' ({sweep.attrs.get('note')}):")
        print(sweep.to_string(index=False, float_format="{:.4f}".format))
    if saved is not None:
        print(f"\nSaved with run {args.run}: {saved.describe()}.")
    return 0


# ---------------------------------------------------------------------------- uplift
def format_roi(preview: Any) -> str:
    """The money of an uplift / profit list next to response targeting with as many coupons."""
    lines = [f"Objective {preview.objective} (margin {preview.margin}; uplift learned from {preview.history_rows:,} "
             "past randomised rows). Model value, and calibrated on held-out control groups [95% interval]:"]
    for r in preview.summary.itertuples(index=False):
        lines.append(f"  {r.measure:<30} this list {r.model:>11,.2f}  calibrated {r.observed:>11,.2f} [{r.low:,.2f}, {r.high:,.2f}]"
                     f"   | response targeting {r.response_model:>11,.2f}  calibrated {r.response_observed:>11,.2f} "
                     f"[{r.response_low:,.2f}, {r.response_high:,.2f}]")
    table = preview.evaluation.table
    lines.append("Held-out past customers, Qini coefficient: " + "; ".join(
        f"{name} {row['qini']:+.4f} [{row['qini_low']:+.4f}, {row['qini_high']:+.4f}]" for name, row in table.iterrows()))
    return "\n".join(lines)


def _uplift_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True, metavar="FILE", help=_("a randomised table (A/B test, past export + outcomes)"))
    p.add_argument("--treatment", required=True, metavar="COLUMN", help=_("the column naming each row's arm"))
    p.add_argument("--control", required=True, metavar="VALUE", help=_("the control arm's value, e.g. 'No E-Mail'"))
    p.add_argument("--outcome", required=True, metavar="COLUMN", help=_("0/1 or amount column to model"))
    p.add_argument("--features", nargs="+", default=None, metavar="COL",
                   help=_("feature columns (default: every other number or few-valued text column)"))
    p.add_argument("--k", type=float, default=0.3, help=_("share of customers for uplift@k (default 0.3)"))
    p.add_argument("--test-share", type=float, default=0.3, help=_("held-out share of rows (default 0.3)"))
    p.add_argument("--bootstrap", type=int, default=200, help=_("bootstrap replicates for the intervals (default 200)"))
    p.add_argument("--seed", type=int, default=0, help=_("seed of the split, the models and the bootstrap"))
    p.add_argument("--json", action="store_true", help=_("print the result as JSON"))


def cmd_uplift(args: argparse.Namespace) -> int:
    from recsys.data.files import ReadLimits
    from recsys.data.read import read_table
    from recsys.learn import uplift

    frame = read_table(args.data, limits=ReadLimits.from_env())
    try:
        results = uplift.evaluate_arms(frame, args.treatment, args.control, args.outcome, features=args.features,
                                       k=args.k, n_boot=args.bootstrap, seed=args.seed, test_share=args.test_share)
    except uplift.UpliftError as exc:
        print(f"{args.data.name}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        _print_json({"data": args.data.name, "outcome": args.outcome, "arms": [r.to_dict() for r in results]})
        return 0
    print(uplift.format_arms(results, args.outcome))
    return 0


# ---------------------------------------------------------------------------- batch
def _batch_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    p.add_argument("--run", required=True, help=_("run id (its production and response models score the customers)"))
    p.add_argument("--customers", default=None,
                   help=_("Parquet file or folder with a user_id column: who to score (default: every customer of the run)"))
    p.add_argument("-k", "--k", type=int, default=10, help=_("offers kept per customer (default 10)"))
    p.add_argument("--as-of", default=None, help=_("campaign day YYYY-MM-DD: offers live that day (default: the data's last day)"))
    p.add_argument("--engine", choices=("local", "spark"), default="local", help=_("local (one machine, default) or spark"))
    p.add_argument("--spark-master", default=None,
                   help=_("Spark master URL (default: the one spark-submit was given, else local[*])"))
    p.add_argument("--buckets", type=int, default=None, help=_("top-k part files (default: one per million customers)"))
    p.add_argument("--top", type=int, default=None, help=_("most coupons per offer"))
    p.add_argument("--cap", type=int, default=1, help=_("most coupons per customer (default 1)"))
    p.add_argument("--budget", type=int, default=None, help=_("most coupons in all"))
    p.add_argument("--min-probability", type=float, default=0.0, help=_("leave out pairs below this response probability"))
    p.add_argument("--holdout", type=float, default=0.1, help=_("share of customers held out as controls (default 0.1)"))
    p.add_argument("--seed", type=int, default=0, help=_("seed of the control group (hash of seed and customer id)"))
    p.add_argument("--out", required=True, help=_("output folder (new or empty): topk/, audience/, batch.json"))
    p.add_argument("--json", action="store_true", help=_("print the batch manifest as JSON"))


def cmd_batch(args: argparse.Namespace) -> int:
    from recsys.campaign.batch import BatchAudienceSpec
    from recsys.workspace.batch import BatchRequest, run_batch
    from recsys.workspace.store import NotFound

    try:
        request = BatchRequest(
            run_id=args.run, out=str(args.out), k=args.k, as_of=args.as_of, customers=args.customers,
            engine=args.engine, spark_master=args.spark_master, buckets=args.buckets,
            audience=BatchAudienceSpec(top_n=args.top, max_per_customer=args.cap, total_coupons=args.budget,
                                       min_probability=args.min_probability, holdout_share=args.holdout, seed=args.seed))
        result = run_batch(_workspace(args), request, progress=_progress_printer(quiet=args.json))
    except (NotFound, ValueError) as exc:  # BatchError, unknown run, damaged model file
        print(f"Cannot run the batch: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    m = result.manifest
    if args.json:
        _print_json(m)
        return 0
    alloc = m["allocation"]
    print(f"Scored {m['customers']:,} customers x {len(m['live_offers'])} live offers on {m['campaign_day']} "
          f"({m['engine']}): top {m['k']} in {len(m['topk'])} file(s) under {result.out / 'topk'}")
    print(f"Audience: {alloc['coupons']:,} coupons, {m['audience']['customers_by_group'][C.CONTROL]:,} control "
          f"customers; sum of probabilities {alloc['weight']:,.1f} (greedy: at least {alloc['optimality']:.1%} "
          f"of the best possible); {result.out / 'audience' / 'targets.csv'}")
    return 0


# ---------------------------------------------------------------------------- serve
def _serve_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    p.add_argument("run", help=_("run id"))
    p.add_argument("model", nargs="?", choices=("validated", "hybrid"), default=None,
                   help=_("serve the best validated model or the hybrid (omit to show which serves)"))


def cmd_serve(args: argparse.Namespace) -> int:
    from recsys.workspace import serving
    from recsys.workspace.store import NotFound

    ws = _workspace(args)
    try:
        if args.model is not None:
            serving.set_serving(ws, args.run, args.model)
        label = serving.serving_label(ws, args.run)
    except (NotFound, ValueError) as exc:
        print(f"Cannot set the serving model: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"Run {args.run} serves {label} (recommendations, targeting probabilities, exports).")
    return 0


# ---------------------------------------------------------------------------- main
#: name -> (handler, argument adder, help text)
COMMANDS: dict[str, tuple[Handler, ArgAdder, str]] = {
    "sample": (cmd_sample, _sample_args, N_("write a synthetic shop with a planted truth")),
    "import": (cmd_import, _import_args, N_("import interaction / customer / offer files into the workspace")),
    "append": (cmd_append, _append_args, N_("add new interactions, customers or offers to a dataset (validated, atomic)")),
    "datasets": (cmd_datasets, _datasets_args, N_("list the datasets in the workspace")),
    "train": (cmd_train, _train_args, N_("train and evaluate a model against baselines (one run)")),
    "runs": (cmd_runs, _runs_args, N_("list, compare or delete training runs")),
    "update": (cmd_update, _update_args, N_("update a run's model with the data appended since (a new run, no retraining)")),
    "freshness": (cmd_freshness, _freshness_args, N_("is a run's model stale? its accuracy on new events and what to do")),
    "segments": (cmd_segments, _segments_args, N_("customer segments: RFM, by customer columns or behavioural clusters; save them")),
    "export": (cmd_export, _export_args, N_("build a campaign targeting list with a control group and export it as CSV")),
    "measure": (cmd_measure, _measure_args, N_("measure the lift of a campaign: treatment vs control with confidence intervals")),
    "uplift": (cmd_uplift, _uplift_args, N_("learn and judge uplift models on a randomised table: Qini, AUUC, uplift@k per arm")),
    "serve": (cmd_serve, _serve_args, N_("show or switch a run's serving model: its best validated model or the hybrid")),
    "recommend": (cmd_recommend, _recommend_args, N_("a customer's top offers with score, rank and exact attributions")),
    "batch": (cmd_batch, _batch_args, N_("score every customer against the live offers (one machine or Spark): top-k files and a targeting list")),
    "audit": (cmd_audit, _audit_args, N_("fairness and diversity audit of a run: groups, four-fifths rule, exposure, lists")),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promolens", description=_("PromoLens: explainable coupon targeting"))
    lang_help = _("language of the messages (default: $PROMOLENS_LANG, else the system locale)")
    parser.add_argument("--lang", default=None, type=i18n.check_language, metavar="{en,zh_CN}", help=lang_help)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (handler, add_args, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=_(help_text), description=_(help_text))
        p.add_argument("--lang", default=argparse.SUPPRESS, type=i18n.check_language, metavar="{en,zh_CN}",
                       help=lang_help)  # also after the command: `promolens import --lang zh_CN ...`
        add_args(p)
        p.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``promolens`` console script."""
    from recsys.data.validate import DataError

    token = i18n.set_language(cli_language(argv))
    try:
        args = build_parser().parse_args(argv)
        return int(args.handler(args))
    except DataError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    except WorkspaceError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_WORKSPACE
    finally:
        i18n.reset_language(token)


def cli_language(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The CLI's language: ``--lang``, else ``$PROMOLENS_LANG``, else the system locale, else English."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--lang", default=None)
    known, _rest = pre.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    environ = os.environ if environ is None else environ
    for candidate in (known.lang, environ.get(i18n.LANG_ENV)):
        if candidate:
            return i18n.check_language(candidate)
    system = next((environ[k] for k in ("LC_ALL", "LC_MESSAGES", "LANG") if environ.get(k)), None)
    return i18n.negotiate(system)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
