"""The ``promolens`` command: every main job without a browser.

Exit codes: 0 done, 2 bad input (the report says what to fix), 3 workspace busy or missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from recsys import columns as C
from recsys.store import WorkspaceError, default_workspace_path

EXIT_BAD_INPUT = 2
EXIT_WORKSPACE = 3

Handler = Callable[[argparse.Namespace], int]
ArgAdder = Callable[[argparse.ArgumentParser], None]


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str, sort_keys=False))


def _workspace_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace", type=Path, default=None,
        help="workspace directory (default: $PROMOLENS_WORKSPACE or ./workspace)",
    )


def _workspace(args: argparse.Namespace):  # noqa: ANN202 - Workspace, imported lazily
    from recsys.store import Workspace

    return Workspace(args.workspace or default_workspace_path())


# ---------------------------------------------------------------------------- sample
def _sample_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="directory to write the sample files into")
    p.add_argument("--users", type=int, default=None, help="number of customers")
    p.add_argument("--items", type=int, default=None, help="number of offers")
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.add_argument("--plant-bias", action="store_true", help="plant an age-band targeting bias (for fairness demos)")


def cmd_sample(args: argparse.Namespace) -> int:
    from recsys import synth

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
    paths = synth.write_sample(shop, args.out)
    for label, path in paths.items():
        print(f"{label}: {path}")
    return 0



# ---------------------------------------------------------------------------- import
def _import_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    p.add_argument("--interactions", type=Path, required=True, help="interactions file (CSV, CSV.gz, Parquet, Excel)")
    p.add_argument("--users", type=Path, default=None, help="customer facts file")
    p.add_argument("--items", type=Path, default=None, help="offer / product facts file")
    p.add_argument("--name", default=None, help="dataset name (default: the interactions file name)")
    p.add_argument(
        "--map", action="append", default=[], metavar="CANONICAL=THEIRS",
        help="map a canonical column to yours, e.g. user_id=CustomerID or users.user_id=cust (repeatable)",
    )
    p.add_argument("--user-columns", nargs="*", default=None, help="interaction-file columns that are customer facts")
    p.add_argument("--item-columns", nargs="*", default=None, help="interaction-file columns that are offer facts")
    p.add_argument(
        "--leading-zero-ids", choices=["error", "merge", "keep"], default="error",
        help="ids like 007 and 7 in one column: stop (default), treat as one id, or keep apart",
    )
    p.add_argument("--pseudonymise", action="store_true", help="replace customer ids by keyed pseudonyms")
    p.add_argument("--max-file-mb", type=float, default=None, help="refuse files larger than this")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def parse_mapping(pairs: Sequence[str]) -> dict[str, dict[str, str]]:
    """``["user_id=CustomerID", "users.user_id=cid"]`` -> ``{"interactions": {...}, "users": {...}}``."""
    mapping: dict[str, dict[str, str]] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"--map {pair!r}: write CANONICAL=THEIRS, e.g. --map user_id=CustomerID")
        canonical, theirs = (part.strip() for part in pair.split("=", 1))
        table, _, column = canonical.rpartition(".")
        table = table or C.Table.INTERACTIONS.value
        if table not in {t.value for t in C.Table}:
            raise ValueError(f"--map {pair!r}: unknown table {table!r}; use interactions, users or items")
        allowed = C.MAPPABLE_COLUMNS[C.Table(table)]
        if column not in allowed:
            raise ValueError(f"--map {pair!r}: {column!r} is not a column of {table}; choose one of {', '.join(allowed)}")
        mapping.setdefault(table, {})[column] = theirs
    return mapping


def cmd_import(args: argparse.Namespace) -> int:
    from recsys import io
    from recsys.ingest import import_files

    try:
        mapping = parse_mapping(args.map)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    limits = io.ReadLimits()
    if args.max_file_mb is not None:
        limits = io.ReadLimits(**{**vars(limits), "max_file_bytes": int(args.max_file_mb * 1024**2)})
    options = io.ImportOptions(
        leading_zero_ids=args.leading_zero_ids, limits=limits,
        user_columns=tuple(args.user_columns) if args.user_columns is not None else None,
        item_columns=tuple(args.item_columns) if args.item_columns is not None else None,
    )
    ws = _workspace(args)
    info, prepared = import_files(
        ws, args.interactions, args.users, args.items, name=args.name, mapping=mapping or None,
        options=options, pseudonymise=args.pseudonymise,
    )
    if args.json:
        _print_json({"dataset": info.to_dict()})
        return 0
    print(f"Imported dataset {info.id} '{info.name}': {info.n_interactions:,} interactions, "
          f"{info.n_users:,} customers, {info.n_items:,} offers.")
    print("Cleaning report:")
    print(prepared.report.to_frame().to_string(index=False))
    for warning in prepared.warnings:
        print(f"warning: {warning}")
    return 0



# ---------------------------------------------------------------------------- datasets
def _datasets_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON")


def cmd_datasets(args: argparse.Namespace) -> int:
    infos = _workspace(args).datasets()
    if args.json:
        _print_json([i.to_dict() for i in infos])
        return 0
    if not infos:
        print("No datasets yet. Import one with `promolens import --interactions FILE`.")
    for i in infos:
        print(f"{i.id}\t{i.name}\t{i.n_interactions:,} interactions\t{i.n_users:,} customers\t"
              f"{i.n_items:,} offers\t{i.created_at:%Y-%m-%d %H:%M}")
    return 0



# ---------------------------------------------------------------------------- train / runs
def _train_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    p.add_argument("--dataset", required=True, help="dataset id (see `promolens datasets`)")
    p.add_argument("--split", choices=["temporal", "leave_last_n", "random", "cold_items"], default="temporal")
    p.add_argument("--test-share", type=float, default=0.2, help="share held out for testing")
    p.add_argument("--cutoff", default=None, help="temporal split: rows after this date are test")
    p.add_argument("--epochs", type=int, default=30, help="maximum epochs (early stopping may stop sooner)")
    p.add_argument("--loss", choices=["warp", "bpr", "logistic", "warp-kos"], default="warp")
    p.add_argument("--components", type=int, default=32, help="embedding size")
    p.add_argument("--learning-rate", type=float, default=0.05)
    p.add_argument("--alpha", type=float, default=0.0, help="L2 penalty on user and item embeddings")
    p.add_argument("--k", type=int, default=10, help="list length for precision@k, NDCG@k, ...")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--include-sensitive", action="store_true", help="use sensitive columns (gender, age, ...) as features")
    p.add_argument("--user-columns", nargs="*", default=None, help="customer columns to use as features (default: all usable)")
    p.add_argument("--item-columns", nargs="*", default=None, help="offer columns to use as features (default: all usable)")
    p.add_argument("--half-life-days", type=float, default=None, help="weight recent events more (time decay)")
    p.add_argument("--no-refit", action="store_true", help="keep the evaluated model instead of refitting on all data")
    p.add_argument("--json", action="store_true", help="print JSON")


def train_config_from_args(args: argparse.Namespace):  # noqa: ANN201 - pipeline.TrainConfig
    from recsys.features import FeatureConfig, InteractionConfig
    from recsys.model import ModelConfig
    from recsys.pipeline import TrainConfig
    from recsys.split import SplitConfig

    return TrainConfig(
        split=SplitConfig(kind=args.split, test_share=args.test_share, cutoff=args.cutoff),
        interactions=InteractionConfig(half_life_days=args.half_life_days),
        features=FeatureConfig(include_sensitive=args.include_sensitive),
        model=ModelConfig(
            loss=args.loss, no_components=args.components, learning_rate=args.learning_rate,
            item_alpha=args.alpha, user_alpha=args.alpha, epochs=args.epochs,
        ),
        k=args.k, seed=args.seed,
    )


def cmd_train(args: argparse.Namespace) -> int:
    from recsys import runs

    try:
        config = train_config_from_args(args)
        config.validate()
    except ValueError as exc:
        print(f"Bad training settings: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    ws = _workspace(args)
    quiet = args.json

    def progress(message: str, share: float) -> None:
        if not quiet:
            print(f"[{share:4.0%}] {message}", file=sys.stderr)

    try:
        run_id = runs.train_run(
            ws, args.dataset, config, refit_all=not args.no_refit, user_columns=args.user_columns,
            item_columns=args.item_columns, progress=progress,
        )
    except ValueError as exc:
        print(f"Training stopped: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    run = ws.run(run_id)
    metrics = runs.metrics_frame(run)
    if args.json:
        _print_json({"run_id": run_id, "metrics": run["metrics"], "timings": run["timings"], "split": run["split"]})
        return 0
    print(f"Run {run_id} on dataset {args.dataset}")
    print(metrics.round(4).to_string())
    print(runs.verdict(metrics, config.k, config.split.kind))
    print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in run["timings"].items()))
    return 0


def _runs_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    p.add_argument("--dataset", default=None, help="only runs of this dataset")
    p.add_argument("--compare", nargs="+", default=None, metavar="RUN", help="compare these runs side by side")
    p.add_argument("--delete", default=None, metavar="RUN", help="delete this run and its model")
    p.add_argument("--json", action="store_true", help="print JSON")


def cmd_runs(args: argparse.Namespace) -> int:
    from recsys import runs

    ws = _workspace(args)
    if args.delete:
        ws.delete_run(args.delete)
        print(f"Deleted run {args.delete}.")
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
        print("No runs yet. Train one with `promolens train --dataset ID`.")
    for summary in runs.summaries(ws, args.dataset):
        p = summary.headline(f"precision@{summary.k}")
        print(f"{summary.id}\t{summary.dataset_id}\t{summary.split}\tprecision@{summary.k} "
              f"{'n/a' if p is None else f'{p:.4f}'}\t{summary.created_at:%Y-%m-%d %H:%M}")
    return 0


# ---------------------------------------------------------------------------- measure
def _measure_args(p: argparse.ArgumentParser) -> None:
    _workspace_arg(p)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--export", metavar="ID", help="a past export: its treatment vs its control customers")
    source.add_argument("--data", type=Path, metavar="FILE", help="any results table with an arm column")
    p.add_argument("--outcomes", type=Path, metavar="FILE", help="with --export: customer id + outcome columns")
    p.add_argument("--user-column", default=None, help="with --export: customer-id column of --outcomes (default: guessed)")
    p.add_argument("--arm", metavar="COLUMN", help="with --data: the column naming each row's arm")
    p.add_argument("--control", metavar="VALUE", help="with --data: the control arm's value")
    p.add_argument("--outcome", action="append", required=True, metavar="COLUMN", help="outcome column (repeatable)")
    p.add_argument("--score", metavar="COLUMN", help="with --data: model-score column (adds lift by score decile)")
    p.add_argument("--offer", metavar="COLUMN", help="with --data: offer column (deciles within offer, lift per offer)")
    p.add_argument("--alpha", type=float, default=0.05, help="1 - confidence level (default 0.05: 95%% intervals)")
    p.add_argument("--save", action="store_true", help="with --data: record the measurement in the workspace")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def cmd_measure(args: argparse.Namespace) -> int:
    from recsys import export, io, measure

    measurement_id = None
    if args.export:
        if args.outcomes is None:
            print("--export needs --outcomes FILE: the customer ids and outcome columns to measure.", file=sys.stderr)
            return EXIT_BAD_INPUT
        ws = _workspace(args)
        record = ws.export(args.export)
        targets = export.load_targets(ws, args.export)

        def id_columns(header: Sequence[str]) -> list[str]:
            guessed = io.guess_mapping(list(header), C.Table.USERS).get(C.USER_ID)
            return [c for c in (args.user_column, guessed) if c]

        outcomes = io.read_table(args.outcomes, text_columns=id_columns)
        planned = (record.get("manifest") or {}).get("params", {}).get("spec", {}).get("holdout_share")
        result = measure.measure_export(
            targets, outcomes, args.outcome, user_column=args.user_column, planned_share=planned,
            alpha=args.alpha, source=args.outcomes.name, export_id=args.export,
        )
        measurement_id = ws.save_measurement(result.params, result.to_dict(), export_id=args.export)
    else:
        if not args.arm or args.control is None:
            print("--data needs --arm COLUMN and --control VALUE, e.g. --arm segment --control 'No E-Mail'.", file=sys.stderr)
            return EXIT_BAD_INPUT
        frame = io.read_table(args.data)
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


# ---------------------------------------------------------------------------- main
#: name -> (handler, argument adder, help text)
COMMANDS: dict[str, tuple[Handler, ArgAdder, str]] = {
    "sample": (cmd_sample, _sample_args, "write a synthetic shop with a planted truth"),
    "import": (cmd_import, _import_args, "import interaction / customer / offer files into the workspace"),
    "datasets": (cmd_datasets, _datasets_args, "list the datasets in the workspace"),
    "train": (cmd_train, _train_args, "train and evaluate a model against baselines (one run)"),
    "runs": (cmd_runs, _runs_args, "list, compare or delete training runs"),
    "measure": (cmd_measure, _measure_args, "measure the lift of a campaign: treatment vs control with confidence intervals"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promolens", description="PromoLens: explainable coupon targeting")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (handler, add_args, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_args(p)
        p.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``promolens`` console script."""
    from recsys.validate import DataError

    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except DataError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    except WorkspaceError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_WORKSPACE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
