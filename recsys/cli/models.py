"""``promolens train``, ``runs``, ``update``, ``freshness`` and ``serve``: a dataset's models."""

from __future__ import annotations

import argparse
import json
import sys

from recsys.cli.common import EXIT_BAD_INPUT, open_workspace, print_json, progress_printer, workspace_arg
from recsys.core.i18n import fill
from recsys.core.i18n import gettext as _


# ---------------------------------------------------------------------------- train / runs
def train_args(p: argparse.ArgumentParser) -> None:
    workspace_arg(p)
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
    ws = open_workspace(args)
    progress = progress_printer(quiet=args.json)

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
        print_json({"run_id": run_id, "metrics": run["metrics"], "timings": run["timings"], "split": run["split"],
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


def runs_args(p: argparse.ArgumentParser) -> None:
    workspace_arg(p)
    p.add_argument("--dataset", default=None, help=_("only runs of this dataset"))
    p.add_argument("--compare", nargs="+", default=None, metavar="RUN", help=_("compare these runs side by side"))
    p.add_argument("--delete", default=None, metavar="RUN", help=_("delete this run and its model"))
    p.add_argument("--json", action="store_true", help=_("print JSON"))


def cmd_runs(args: argparse.Namespace) -> int:
    from recsys.workspace import runs

    ws = open_workspace(args)
    if args.delete:
        ws.delete_run(args.delete)
        print(fill(_("Deleted run {run}."), run=args.delete))
        return 0
    if args.compare:
        table = runs.compare(ws, args.compare)
        if args.json:
            print_json(json.loads(table.to_json(orient="index")))
        else:
            print(table.T.to_string())
        return 0
    records = ws.runs(args.dataset)
    if args.json:
        print_json(records)
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
def update_args(p: argparse.ArgumentParser) -> None:
    workspace_arg(p)
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
    ws = open_workspace(args)
    progress = progress_printer(quiet=args.json)

    try:
        run_id = update.update_run(ws, args.run, args.dataset, config, progress=progress)
    except ValueError as exc:
        print(f"Update stopped: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    run = ws.run(run_id)
    extra = run["extra"]
    if args.json:
        print_json({"run_id": run_id, "parent_run": args.run, "dataset_id": run["dataset_id"],
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


def freshness_args(p: argparse.ArgumentParser) -> None:
    workspace_arg(p)
    p.add_argument("--run", required=True, help=_("the run to check (see `promolens runs`)"))
    p.add_argument("--dataset", default=None, help=_("dataset with the new data (default: the run's own appends)"))
    p.add_argument("--k", type=int, default=None, help=_("list length (default: the run's k)"))
    p.add_argument("--json", action="store_true", help=_("print JSON"))


def cmd_freshness(args: argparse.Namespace) -> int:
    from recsys.workspace import update

    ws = open_workspace(args)
    try:
        report = update.freshness_report(ws, args.run, args.dataset, k=args.k)
    except ValueError as exc:
        print(f"Freshness check stopped: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print_json({"run_id": args.run, **report.to_dict(), "summary": report.summary()})
        return 0
    print(f"Run {args.run}: {report.new_events:,} new events since training, "
          f"{report.eval_users:,} customers with a new response.")
    if report.precision_new is not None:
        at_training = "n/a" if report.precision_at_training is None else f"{report.precision_at_training:.4f}"
        print(f"precision@{report.k} on the new events {report.precision_new:.4f} (at training: {at_training}); "
              f"most popular {report.popularity_precision_new:.4f}.")
    print(report.summary())
    return 0




# ---------------------------------------------------------------------------- serve
def serve_args(p: argparse.ArgumentParser) -> None:
    workspace_arg(p)
    p.add_argument("run", help=_("run id"))
    p.add_argument("model", nargs="?", choices=("validated", "hybrid"), default=None,
                   help=_("serve the best validated model or the hybrid (omit to show which serves)"))


def cmd_serve(args: argparse.Namespace) -> int:
    from recsys.workspace import serving
    from recsys.workspace.store import NotFound

    ws = open_workspace(args)
    try:
        if args.model is not None:
            serving.set_serving(ws, args.run, args.model)
        label = serving.serving_label(ws, args.run)
    except (NotFound, ValueError) as exc:
        print(f"Cannot set the serving model: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"Run {args.run} serves {label} (recommendations, targeting probabilities, exports).")
    return 0
