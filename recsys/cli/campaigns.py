"""``promolens measure``, ``segments``, ``export``, ``uplift`` and ``batch``: who gets a coupon, and what it did."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recsys.cli.common import EXIT_BAD_INPUT, open_workspace, print_json, progress_printer, workspace_arg
from recsys.core import columns as C
from recsys.core.i18n import gettext as _


# ---------------------------------------------------------------------------- measure
def measure_args(p: argparse.ArgumentParser) -> None:
    workspace_arg(p)
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
        ws = open_workspace(args)
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
            measurement_id = open_workspace(args).save_measurement(result.params, result.to_dict())
    if args.json:
        print_json({"measurement_id": measurement_id, **result.to_dict()})
        return 0
    print(measure.format_report(result))
    if measurement_id:
        print(f"\nRecorded as measurement {measurement_id}.")
    return 0


# ---------------------------------------------------------------------------- segments
def segments_args(p: argparse.ArgumentParser) -> None:
    workspace_arg(p)
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

    ws = open_workspace(args)
    ws.dataset(args.dataset)
    if args.list or args.delete:
        if args.delete:
            segments.delete_segment(ws, args.delete)
            print(f"Deleted segment {args.delete}.")
            return 0
        table = segments.saved_segments(ws, args.dataset)
        if args.json:
            print_json(table.to_dict("records"))
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
        print_json(summary)
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
def export_args(p: argparse.ArgumentParser) -> None:
    workspace_arg(p)
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

    progress = progress_printer(quiet=args.json)

    try:
        request = export_request_from_args(args)
        ws = open_workspace(args)
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
        print_json({"export_id": result.export_id, "csv": str(args.out), "manifest": result.manifest,
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




# ---------------------------------------------------------------------------- uplift
def format_roi(preview: Any) -> str:
    """The money of an uplift / profit list next to response targeting with as many coupons."""
    lines = [f"Objective {preview.objective} (margin {preview.margin}; uplift learned from {preview.history_rows:,} "
             "past randomised rows). Model value, and calibrated on held-out control groups [95% interval]:"]
    for r in preview.summary.itertuples(index=False):
        lines.append(f"  {r.measure:<30} this list {r.model:>11,.2f}  calibrated {r.observed:>11,.2f} [{r.low:,.2f}, {r.high:,.2f}]"
                     f"   | response targeting {r.response_model:>11,.2f}  calibrated {r.response_observed:>11,.2f} "
                     f"[{r.response_low:,.2f}, {r.response_high:,.2f}]")
    import pandas as pd

    from recsys.metrics.uplift import interval_text

    table = preview.evaluation.table
    names = pd.Series(table.index, index=table.index).astype(str)
    lines.append("Held-out past customers, Qini coefficient: " + "; ".join(names + " " + interval_text(table, "qini")))
    return "\n".join(lines)


def uplift_args(p: argparse.ArgumentParser) -> None:
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
        print_json({"data": args.data.name, "outcome": args.outcome, "arms": [r.to_dict() for r in results]})
        return 0
    print(uplift.format_arms(results, args.outcome))
    return 0


# ---------------------------------------------------------------------------- batch
def batch_args(p: argparse.ArgumentParser) -> None:
    workspace_arg(p)
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
        result = run_batch(open_workspace(args), request, progress=progress_printer(quiet=args.json))
    except (NotFound, ValueError) as exc:  # BatchError, unknown run, damaged model file
        print(f"Cannot run the batch: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    m = result.manifest
    if args.json:
        print_json(m)
        return 0
    alloc = m["allocation"]
    print(f"Scored {m['customers']:,} customers x {len(m['live_offers'])} live offers on {m['campaign_day']} "
          f"({m['engine']}): top {m['k']} in {len(m['topk'])} file(s) under {result.out / 'topk'}")
    print(f"Audience: {alloc['coupons']:,} coupons, {m['audience']['customers_by_group'][C.CONTROL]:,} control "
          f"customers; sum of probabilities {alloc['weight']:,.1f} (greedy: at least {alloc['optimality']:.1%} "
          f"of the best possible); {result.out / 'audience' / 'targets.csv'}")
    return 0
