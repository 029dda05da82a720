"""``promolens recommend`` and ``audit``: a customer's list, and the fairness of a run's lists."""

from __future__ import annotations

import argparse
import json
import sys

from recsys.cli.common import EXIT_BAD_INPUT, open_workspace, print_json, workspace_arg
from recsys.core.i18n import gettext as _


# ---------------------------------------------------------------------------- recommend
def recommend_args(p: argparse.ArgumentParser) -> None:
    workspace_arg(p)
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
        ws = open_workspace(args)
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
        print_json({"run_id": args.run, "model": listed.model, "user_id": args.user, "horizon_days": listed.horizon_days,
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
        ws = open_workspace(args)
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
        print_json({"run": args.run, **report})
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


# ---------------------------------------------------------------------------- audit
def audit_args(p: argparse.ArgumentParser) -> None:
    workspace_arg(p)
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

    ws = open_workspace(args)
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
        print_json({**result.to_dict(), "tradeoff": None if sweep is None else json.loads(sweep.to_json(orient="records")),
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
