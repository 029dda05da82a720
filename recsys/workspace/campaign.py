"""A campaign end to end: run + dataset + audience spec -> scores -> audience -> reasons -> export.

The Campaign page and ``promolens export`` both call :func:`build_campaign` and
:func:`export_campaign`, so a list made in the browser and one made on the command line from the
same request are the same list (byte for byte: same CSV sha256).

Steps of :func:`build_campaign`:

1. **Who can be scored.** Every customer of the dataset (customers table and interactions), kept
   when a member of one of the chosen saved segments and passing the customer filters. These two
   rules are applied *before* scoring so a campaign for one segment of ten million customers only
   scores that segment.
2. **Scoring.** Customers are compared by their **response probability** (P(responds within the
   horizon if sent), :mod:`recsys.learn.response`): the run's response model with its production
   model, as of the campaign day (``spec.as_of``, default the data's last day), for every kept
   customer x chosen offer in one block per offer set. Only offers live on the campaign day can be
   targeted (an ended offer is a clear error). A run trained before response probabilities falls
   back to the production model's raw score (one vectorised ``recommend`` call per chunk of
   customers) and a note says so: raw scores do not compare customers fairly.
3. **Audience.** :func:`recsys.campaign.audience.build_audience` applies the remaining rules (active since,
   not contacted recently, not already redeemed, score threshold), the budgets and the per-customer
   cap, and draws the control group. A saved fairness re-ranking of the run (``extra["rerank"]``)
   is honoured through its ``score_adjuster`` hook when :mod:`recsys.insight.rerank` provides one.
4. **Reasons.** The top reasons of every targeted pair are exact Shapley attributions of its score
   computed for blocks of pairs at once: with probabilities, the response model's exact additive
   attribution of the probability's logit (:meth:`recsys.learn.response.ResponseModel.explain_pairs`:
   customer history, customer and offer facts, offer track record, fit with the customer's tastes;
   the LightFM customer offset cancels and never leads); without, exact Shapley attributions of the
   raw score (:class:`recsys.insight.attribution.ScoreExplainer`).

The preview's expected responders (:meth:`Campaign.expected_responders`) are the sum of the
probabilities of the coupons sent, with a 95% interval from the normal approximation of the
Poisson-binomial count (variance ``sum p (1 - p)``).

>>> request = CampaignRequest("r1", AudienceSpec(offers=("OFF0042",), top_n=500))  # doctest: +SKIP
>>> campaign = build_campaign(Workspace("ws"), request)                              # doctest: +SKIP
>>> export_campaign(ws, campaign, out="targets.csv").export_id                       # doctest: +SKIP
'e1'
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.campaign import arms, export
from recsys.campaign.audience import Audience, ScoreAdjuster, build_audience
from recsys.campaign.spec import CampaignError, AudienceSpec, TargetingError, UserFilter
from recsys.core import columns as C
from recsys.data.dataset import customer_ids
from recsys.core.config import ConfigBase
from recsys.core.i18n import gettext as _
from recsys.core.progress import ProgressCallback
from recsys.campaign.preview import (  # noqa: F401  the preview's summaries take frames; pages reach them through this job
    BASE, BIN_HIGH, BIN_LOW, FLAG, FOUR_FIFTHS, MIN_GROUP_SIZE, MISSING, OFFER_NAME, RATE, RATIO, SCORED, SHARE,
    SHARE_OF_BASE, SHARE_TARGETED, TARGETED, VALUE, SelectionCheck, group_mix, group_values, offer_choices,
    ENDED, offer_names, offer_status, offer_table, rerank_effect, score_histogram, selection_by_group,
)
from recsys.insight import recommend as reco
from recsys.insight import rerank
from recsys.campaign.reasons import (  # noqa: F401  pages and the CLI reach the reasons through this job
    DEFAULT_REASON_VIEW, REASON_CHUNK_ROWS, REASON_UNITS, REASON_VIEWS, REASONS_OF_PROBABILITY, probability_reasons, reason_text,
    top_reasons,
)
from recsys.workspace import exports
from recsys.workspace.recommend import NO_PROBABILITY_NOTE, response_scorer
from recsys.workspace.uplift import check_objective, objective_args, objective_scores, roi_preview, uplift_reasons

#: Customers scored per ``recommend`` call (one matrix product each; bounds memory and paces progress).
SCORE_CHUNK_USERS = 100_000

# Columns of the summary frames this module returns (not data-contract columns, so they live here).
STEP, CUSTOMERS, PAIRS = "step", "customers", "pairs"
COUPONS, CONTROLS = "coupons", "controls"
EXPECTED, EXPECTED_LOW, EXPECTED_HIGH = "expected_responders", "expected_low", "expected_high"
#: z of the 95% interval of expected responders.
Z95 = 1.959964


# ============================================================================== the request
@dataclass(frozen=True)
class CampaignRequest(ConfigBase):
    """Everything that defines a campaign list besides the workspace's data. JSON round-trip.

    Attributes
    ----------
    run_id
        The trained run whose production model scores the customers (its dataset is used).
    spec
        The audience: offers, eligibility, budgets, cap, control group, seed
        (:class:`recsys.campaign.spec.AudienceSpec`). ``spec.offers`` must name at least one offer.
    cost_percent_of
        With a money budget: when ``spec.cost_column`` holds a *percentage* (e.g. discount depth),
        the offers column it is a percentage of (e.g. minimum spend); the cost of one coupon is then
        ``cost_column / 100 * cost_percent_of``. None: ``cost_column`` is already money.
    reasons
        Top reasons written per row (0 = none).
    reasons_view
        What the reasons explain (:data:`REASON_VIEWS`).
    all_offers
        Also allow offers that are not live on the campaign day (default: a clear error names them).
    objective, margin_rate, margin_column, depth_column, past_campaigns
        What the allocation maximises (response, uplift or profit) and what uplift and profit need
        (:mod:`recsys.workspace.uplift`, :mod:`recsys.campaign.roi`).
    ab_test, arm_shares
        An A/B test (:mod:`recsys.campaign.arms`): ``spec.offers`` are the arms, every customer of the
        audience gets one of them at random (relative sizes ``arm_shares``, empty = equal) and
        ``spec.holdout_share`` of each arm is the control group.
    """

    run_id: str
    spec: AudienceSpec
    cost_percent_of: str | None = None
    reasons: int = 2
    reasons_view: str = DEFAULT_REASON_VIEW
    all_offers: bool = False
    objective: str = "response"
    margin_rate: float = 0.5
    margin_column: str | None = None
    depth_column: str = "discount_depth"
    past_campaigns: str | None = None
    ab_test: bool = False
    arm_shares: tuple[float, ...] = ()

    def validate(self) -> None:
        if not self.spec.offers:
            raise CampaignError("Choose at least one offer to target. Fix: pick offers (CLI: --item ID, repeatable).")
        if len(set(self.spec.offers)) != len(self.spec.offers):
            raise CampaignError("An offer is chosen twice. Fix: list each offer once.")
        if not isinstance(self.reasons, (int, np.integer)) or not 0 <= self.reasons <= 10:
            raise CampaignError(f"Reasons per row must be a whole number from 0 to 10, got {self.reasons!r}.")
        if self.reasons_view not in REASON_VIEWS:
            raise CampaignError(f"Unknown reasons view {self.reasons_view!r}. Fix: use one of {', '.join(REASON_VIEWS)}.")
        check_objective(self)
        if self.cost_percent_of and not self.spec.cost_column:
            raise CampaignError("'cost percent of' needs the percentage column too. Fix: set the cost column (CLI: --cost-column).")
        try:
            self.spec.validate()
            if self.ab_test or self.arm_shares:
                arms.check_request(self)
        except TargetingError as exc:
            raise CampaignError(str(exc)) from exc

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, the spec as :meth:`AudienceSpec.to_dict`."""
        data = super().to_dict()
        data["spec"] = self.spec.to_dict()
        data["arm_shares"] = list(self.arm_shares)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CampaignRequest":
        """The request written by :meth:`to_dict` (unknown fields are an error)."""
        values = cls.known_fields(data)
        values["spec"] = AudienceSpec.from_dict(values["spec"])
        values["arm_shares"] = tuple(values.get("arm_shares") or ())
        return cls(**values)

    def command(self, workspace: str | Path | None = None, out: str = "targets.csv") -> list[str]:
        """The ``promolens export`` command line that builds this same list.

        Filter values are joined with commas, so values that themselves hold commas cannot be
        given on the command line.
        """
        s = self.spec
        argv = ["promolens", "export"]
        if workspace is not None:
            argv += ["--workspace", str(workspace)]
        argv += ["--run", self.run_id]
        for offer in s.offers:
            argv += ["--item", offer]
        for segment in s.segments:
            argv += ["--segment", segment]
        for user_filter in s.user_filters:
            value = user_filter.value
            text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
            argv += ["--filter", user_filter.column, user_filter.op, text]
        optional = [
            ("--active-since", s.active_since), ("--exclude-contacted-days", s.exclude_contacted_days),
            ("--as-of", s.as_of), ("--top", s.top_n), ("--budget", s.total_coupons),
            ("--money-budget", s.total_budget), ("--cost-column", s.cost_column),
            ("--cost-percent-of", self.cost_percent_of), ("--min-probability", s.min_score),
        ]
        for flag, value in optional:
            if value is not None:
                argv += [flag, _number_text(value)]
        if not s.exclude_redeemed:
            argv.append("--keep-redeemed")
        argv += ["--cap", str(s.max_per_customer), "--holdout", _number_text(s.holdout_share), "--seed", str(s.seed)]
        if self.reasons != 2:
            argv += ["--reasons", str(self.reasons)]
        if self.reasons_view != DEFAULT_REASON_VIEW:
            argv += ["--reasons-view", self.reasons_view]
        if self.all_offers:
            argv.append("--all-offers")
        argv += arms.command_args(self)
        return [*argv, *objective_args(self), "--out", out]


def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)


def parse_filter(column: str, op: str, text: str) -> UserFilter:
    """A :class:`UserFilter` from command-line text (``in``/``not_in``/``between`` values comma-separated)."""
    if op in ("in", "not_in", "between"):
        return UserFilter(column, op, [part.strip() for part in text.split(",")])  # type: ignore[arg-type]
    return UserFilter(column, op, text)  # type: ignore[arg-type]


# ============================================================================== the result
@dataclass(frozen=True)
class Campaign:
    """A built (not yet exported) campaign list and what the preview shows about it.

    Attributes
    ----------
    request
        What was asked.
    dataset_id, dataset_fingerprint
        The run's dataset.
    audience
        The targeting list (:class:`recsys.campaign.audience.Audience`); its funnel starts with every
        customer of the dataset.
    reasons
        Top reasons of each row of ``audience.frame`` (aligned; ``""`` when reasons are off).
    histogram
        Score distribution per offer: ``item_id``, ``bin_low``, ``bin_high``, ``scored`` (pairs
        scored) and ``targeted`` (pairs in the list).
    offer_names
        Readable name of every chosen offer.
    costs
        Cost of one coupon per chosen offer (with a money budget), else None.
    n_customers
        Customers in the dataset (the base of the fairness check).
    notes
        Plain-language remarks (fallbacks, settings that could not be applied).
    timings
        Seconds per step.
    horizon_days
        The response model's horizon when the list is ranked by probability (``score`` and
        ``probability`` of ``audience.frame`` are then P(responds within it)); None: raw scores.
    campaign_day
        The day offers must be live on and probabilities are computed as of (ISO), or None.
    """

    request: CampaignRequest
    dataset_id: str
    dataset_fingerprint: str
    audience: Audience
    reasons: pd.Series
    histogram: pd.DataFrame
    offer_names: dict[str, str]
    costs: dict[str, float] | None
    n_customers: int
    notes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    horizon_days: int | None = None
    campaign_day: str | None = None
    #: Money of the list under an uplift or profit objective (None when ranked by response).
    roi: Any | None = None
    #: The run's saved fairness re-ranking when it shaped this list: ``settings``, ``description``,
    #: ``expected_with`` / ``expected_without`` (expected responders among the coupons sent, with and
    #: without it; None without probabilities) and ``pairs_changed`` (coupons that differ). None: no re-ranking.
    rerank: dict[str, Any] | None = None
    #: ``item_id``, ``offer_name``, ``offer_start``, ``offer_end`` of the chosen offers (the export's offer columns).
    offers: pd.DataFrame | None = None
    #: The recommender whose scores rank the list (``"hybrid"`` or the served baseline, e.g. ``"ease"``).
    scored_by: str = "hybrid"

    @property
    def has_probability(self) -> bool:
        """Whether the list is ranked by response probability (else by the raw model score)."""
        return reco.PROBABILITY in self.audience.frame.columns

    def expected_responders(self) -> pd.DataFrame:
        """Per offer and in total (``item_id`` "all"): coupons sent, expected responders (sum of the
        probabilities of the treatment rows) and its 95% interval (Poisson-binomial, normal
        approximation). Empty without probabilities."""
        cols = [C.ITEM_ID, OFFER_NAME, COUPONS, EXPECTED, EXPECTED_LOW, EXPECTED_HIGH]
        if not self.has_probability:
            return pd.DataFrame(columns=cols)
        frame = self.audience.frame
        sent = frame[frame[C.GROUP] == C.TREATMENT]
        p = sent[reco.PROBABILITY].to_numpy(np.float64)
        parts = pd.DataFrame({C.ITEM_ID: sent[C.ITEM_ID].astype(str).to_numpy(object), "p": p, "v": p * (1 - p)})
        g = parts.groupby(C.ITEM_ID, sort=False).agg(coupons=("p", "size"), expected=("p", "sum"), var=("v", "sum"))
        g = g.reindex([str(o) for o in self.request.spec.offers]).fillna(0.0)
        g.loc["all"] = [len(p), float(p.sum()), float(parts["v"].sum())]
        sd = np.sqrt(g["var"].to_numpy(np.float64))
        out = pd.DataFrame({
            C.ITEM_ID: g.index.to_numpy(object), OFFER_NAME: [self.offer_names.get(i, "all offers") for i in g.index],
            COUPONS: g["coupons"].astype(np.int64).to_numpy(), EXPECTED: g["expected"].to_numpy(np.float64),
        })
        out[EXPECTED_LOW] = np.maximum(out[EXPECTED] - Z95 * sd, 0.0)
        out[EXPECTED_HIGH] = out[EXPECTED] + Z95 * sd
        return out

    @property
    def frame(self) -> pd.DataFrame:
        """The list with the offer's name and the reasons: what the preview table shows."""
        frame = self.audience.frame.copy()
        frame.insert(2, OFFER_NAME, frame[C.ITEM_ID].astype(str).map(self.offer_names))
        frame[C.REASONS] = self.reasons.to_numpy()
        return frame

    def sizes(self) -> pd.DataFrame:
        """Coupons per offer and group: ``item_id``, ``offer``, ``treatment``, ``control``."""
        counts = self.audience.counts()
        chosen = pd.DataFrame({C.ITEM_ID: list(self.request.spec.offers)})
        counts[C.ITEM_ID] = counts[C.ITEM_ID].astype(str)
        out = chosen.merge(counts, on=C.ITEM_ID, how="left").fillna({C.TREATMENT: 0, C.CONTROL: 0})
        out[[C.TREATMENT, C.CONTROL]] = out[[C.TREATMENT, C.CONTROL]].astype(np.int64)
        out.insert(1, OFFER_NAME, out[C.ITEM_ID].map(self.offer_names))
        return out

    def summary(self) -> dict[str, Any]:
        """Headline numbers: customers per group, coupons sent, money of the coupons sent."""
        frame = self.audience.frame
        treated = frame[C.GROUP] == C.TREATMENT
        customers = self.audience.customers()
        money = budget_used = None
        if self.costs is not None:
            cost = frame[C.ITEM_ID].astype(str).map(self.costs)
            money = float(cost[treated].sum())
            budget_used = float(cost.sum())
        out = {
            "treatment_customers": customers[C.TREATMENT], "control_customers": customers[C.CONTROL],
            "coupons": int(treated.sum()), "control_slots": int((~treated).sum()), "money": money,
            "budget_used": budget_used, "offers": len(self.request.spec.offers),
            "horizon_days": self.horizon_days, "campaign_day": self.campaign_day,
            EXPECTED: None, EXPECTED_LOW: None, EXPECTED_HIGH: None,
        }
        expected = self.expected_responders()
        if len(expected):
            total = expected.iloc[-1]
            out.update({EXPECTED: float(total[EXPECTED]), EXPECTED_LOW: float(total[EXPECTED_LOW]),
                        EXPECTED_HIGH: float(total[EXPECTED_HIGH])})
        return out


# ============================================================================== building
def build_campaign(
    workspace: Any,
    request: CampaignRequest,
    *,
    dataset: Any | None = None,
    model: Any | None = None,
    progress: ProgressCallback | None = None,
    scorer: Callable[[pd.Timestamp | None], tuple[Any, Any, str | None]] | None = None,
) -> Campaign:
    """Score, select and explain a campaign list (nothing is written; see :func:`export_campaign`).

    Parameters
    ----------
    workspace
        The :class:`recsys.workspace.store.Workspace`.
    request
        The campaign (:class:`CampaignRequest`).
    dataset, model
        The run's dataset and production model when already loaded (the page caches them).
    progress
        Called with a message and a share done (0..1).
    scorer
        The campaign day -> :func:`recsys.workspace.recommend.response_scorer` of this run, dataset and
        model as of that day, when the caller keeps it (the pages do: building the context of every
        customer costs more than the allocation); computed here otherwise.

    Raises
    ------
    CampaignError
        A setting that cannot be used; the message names it and the fix.
    """
    from recsys.workspace import runs

    report = progress or (lambda message, share: None)
    request.validate()
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    run = workspace.run(request.run_id)
    if dataset is None:
        report(_("Loading the data"), 0.02)
        dataset = workspace.load_dataset(run["dataset_id"])
    if model is None:
        report(_("Loading the model"), 0.05)
        model = runs.load_model(workspace, request.run_id)
    spec = request.spec
    items = dataset.items
    _check_offers(spec.offers, model, items)
    day = campaign_day(dataset, spec)
    if not request.all_offers:
        _check_live(spec.offers, dataset, day)
    report(_("Loading the response probabilities"), 0.08)
    response_model, context, probability_note = (scorer(day) if scorer is not None
                                                  else response_scorer(workspace, request.run_id, dataset, model, day))
    if response_model is not None and spec.min_score is not None and not 0.0 <= spec.min_score <= 1.0:
        raise CampaignError(f"The minimum is a probability from 0 to 1 (e.g. 0.05 = 5%), got {spec.min_score:g}. "
                            "Fix: --min-probability 0.05.")
    timings["load"] = _lap(clock)

    report(_("Choosing who can be scored"), 0.1)
    clock = time.perf_counter()
    members = {s: workspace.segment_members(s) for s in spec.segments}
    universe = customer_universe(dataset)
    candidates, pre_funnel = _prefilter(universe, dataset.users, spec, members)
    timings["eligibility"] = _lap(clock)

    clock = time.perf_counter()
    if response_model is not None:
        report(_("Computing response probabilities of {customers} customers for {offers} offer(s)").format(
            customers=f"{len(candidates):,}", offers=len(spec.offers)), 0.12)
        scores = probability_scores(response_model, context, candidates, spec.offers)
    else:
        scores = score_customers(
            model, candidates, spec.offers, users=dataset.users, items=items,
            progress=lambda message, share: report(message, 0.12 + 0.5 * share),
        )
    uplift_context = None
    if request.objective != "response":
        report(_("Learning the uplift from past campaigns and valuing {pairs} pairs").format(pairs=f"{len(scores):,}"), 0.5)
        scores, uplift_context = objective_scores(workspace, dataset, request, scores, day)
    timings["scoring"] = _lap(clock)

    report(_("Choosing who gets which coupon"), 0.65)
    clock = time.perf_counter()
    costs_items = _items_with_costs(items, spec, request.cost_percent_of)
    notes: list[str] = [] if probability_note is None else [probability_note[0].upper() + probability_note[1:] + "."]
    adjuster, note = fairness_adjuster(run, model=model, users=dataset.users, items=items)
    if note:
        notes.append(note)
    recent = None
    if spec.exclude_contacted_days is not None:
        recent = exports.recent_recipients(workspace, int(spec.exclude_contacted_days))
    core = replace(spec, offers=(), segments=(), user_filters=())  # applied before scoring
    if request.ab_test:  # the audience gets one coupon each; the arms and controls are drawn after
        core = replace(core, max_per_customer=1, holdout_share=0.0)
    try:
        audience = build_audience(scores, dataset.users, costs_items, dataset.interactions, core,
                                  recent_recipients=recent, score_adjuster=adjuster)
    except TargetingError as exc:
        raise CampaignError(str(exc)) from exc
    funnel = pd.concat([pre_funnel, audience.funnel.iloc[1:]], ignore_index=True)  # row 0 ("scored") = the last pre-step
    audience = replace(audience, spec=spec, funnel=funnel)
    if request.ab_test:
        audience = arms.ab_audience(audience, scores, request.arm_shares)
    if response_model is not None and uplift_context is None:
        audience = replace(audience, frame=with_probability_column(audience.frame))
    roi_view = None
    if uplift_context is not None:
        roi_view = roi_preview(audience.frame, request, uplift_context)
        notes.append(roi_view.selection_note)
    notes.extend(audience.allocation.notes)
    rerank_info = None
    if adjuster is not None:
        plain = build_audience(scores, dataset.users, costs_items, dataset.interactions, core, recent_recipients=recent)
        rerank_info = rerank_effect((run.get("extra") or {}).get("rerank") or {}, audience.frame, plain.frame,
                                    items=items, probabilities=response_model is not None)
    timings["allocation"] = _lap(clock)

    clock = time.perf_counter()
    reasons = pd.Series("", index=audience.frame.index, dtype=object)
    if request.reasons > 0 and len(audience.frame) and uplift_context is not None:
        reasons = uplift_reasons(audience.frame, uplift_context, request.reasons)
    elif request.reasons > 0 and len(audience.frame) and response_model is not None:
        reasons = probability_reasons(response_model, context, audience.frame[C.USER_ID], audience.frame[C.ITEM_ID],
                                      n=request.reasons)
    elif request.reasons > 0 and len(audience.frame):
        reasons = top_reasons(
            model, audience.frame[C.USER_ID], audience.frame[C.ITEM_ID], n=request.reasons,
            view=request.reasons_view, users=dataset.users, items=items,
            progress=lambda message, share: report(message, 0.7 + 0.28 * share),
        )
    timings["reasons"] = _lap(clock)
    report(_("Done"), 1.0)
    costs = None
    if spec.cost_column:
        lookup = costs_items.assign(**{C.ITEM_ID: costs_items[C.ITEM_ID].astype(str)}).drop_duplicates(C.ITEM_ID)
        costs = {str(k): float(v) for k, v in lookup.set_index(C.ITEM_ID)[spec.cost_column].reindex(list(spec.offers)).items()}
    return Campaign(
        request=request, dataset_id=str(run["dataset_id"]), dataset_fingerprint=dataset.info.fingerprint,
        audience=audience, reasons=reasons, histogram=score_histogram(scores, audience.frame),
        offer_names=offer_names(items, spec.offers), costs=costs, n_customers=len(universe),
        notes=tuple(notes), timings=timings,
        horizon_days=None if response_model is None else int(response_model.config_.horizon_days),
        campaign_day=None if day is None else str(day.date()), roi=roi_view,
        rerank=rerank_info,
        offers=offer_table(items, spec.offers, *reco.date_window_columns(dataset.info.item_schema, items)),
        scored_by="hybrid" if response_model is None else str(response_model.scores_from_),
    )



def export_campaign(
    workspace: Any, campaign: Campaign, *, out: str | Path | None = None, identifiers: Iterable[str] = ()
) -> export.ExportResult:
    """Record the campaign as a workspace export (CSV + Parquet + manifest); copy the CSV to ``out``.

    The manifest holds the request, the equivalent command line and the dataset, besides
    everything :func:`recsys.workspace.exports.save_export` records (spec, allocation, funnel, counts,
    sha256 of the CSV).
    """
    params = {
        "campaign": campaign.request.to_dict(),
        "dataset_id": campaign.dataset_id,
        "command": campaign.request.command(),
        "notes": list(campaign.notes),
        "offer_names": campaign.offer_names,
        "reasons": {"per_row": campaign.request.reasons, "view": campaign.request.reasons_view,
                    "explains": REASONS_OF_PROBABILITY if campaign.has_probability
                    else REASON_VIEWS[campaign.request.reasons_view],
                    "unit": REASON_UNITS["uplift" if campaign.request.objective != "response"
                                         else "probability" if campaign.has_probability else "score"]},
        "ranked_by": "response probability" if campaign.has_probability else "raw model score",
        "scored_by": campaign.scored_by,
        "horizon_days": campaign.horizon_days,
        "campaign_day": campaign.campaign_day,
        "expected_responders": campaign.expected_responders().to_dict("records"),
        "fairness_rerank": campaign.rerank,
        "ab_test": arms.manifest_entry(campaign.audience, campaign.request.arm_shares) if campaign.request.ab_test else None,
    }
    result = exports.save_export(
        workspace, campaign.audience, run_id=campaign.request.run_id,
        dataset_fingerprint=campaign.dataset_fingerprint, params=params, reasons=campaign.reasons,
        identifiers=identifiers, offers=campaign.offers,
    )
    if out is not None:
        target = Path(out)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".tmp-{target.name}")
        shutil.copyfile(result.csv_path, tmp)
        tmp.replace(target)
    return result


# ============================================================================== steps
def campaign_day(dataset: Any, spec: AudienceSpec) -> pd.Timestamp | None:
    """The day the offers must be live on: ``spec.as_of``, else the data's last day (None: no offer dates)."""
    if spec.as_of:
        return reco.parse_day(spec.as_of)
    return reco.default_campaign_day(dataset)


def _check_live(offers: Iterable[str], dataset: Any, day: pd.Timestamp | None) -> None:
    """Refuse offers that are not live on the campaign day, saying when they ended or start."""
    if day is None or dataset.items is None:
        return
    start, end = reco.date_window_columns(dataset.info.item_schema, dataset.items)
    problems = [m for m in (reco.offer_ended_message(dataset.items, o, day, start, end) for o in offers) if m]
    if problems:
        raise CampaignError("Only offers live on the campaign day can be targeted: " + "; ".join(problems)
                            + ". Fix: choose live offers, or set the campaign day within their dates (CLI: --as-of), "
                            "or allow offers that are not live (CLI: --all-offers).")


def probability_scores(response_model: Any, context: Any, user_ids: Iterable[Any], offers: Iterable[Any]) -> pd.DataFrame:
    """Response probability of every customer for every offer: ``user_id``, ``item_id``, ``score``
    (= the probability, what the audience ranks and allocates by). Ids come back as categoricals."""
    ids = pd.unique(np.asarray(pd.Index(user_ids).astype(str), dtype=object))
    offers = pd.unique(np.asarray(pd.Index(offers).astype(str), dtype=object))
    block = response_model.predict_block(context, ids, offers)  # (customers, offers), chunked inside
    return pd.DataFrame({
        C.USER_ID: pd.Categorical.from_codes(np.repeat(np.arange(len(ids)), len(offers)), categories=ids),
        C.ITEM_ID: pd.Categorical.from_codes(np.tile(np.arange(len(offers)), len(ids)), categories=offers),
        C.SCORE: block.ravel().astype(np.float64),
    })


def with_probability_column(frame: pd.DataFrame) -> pd.DataFrame:
    """The audience frame with ``probability`` (= its ``score``, a probability) after ``score``."""
    out = frame.copy()
    out.insert(out.columns.get_loc(C.SCORE) + 1, reco.PROBABILITY, out[C.SCORE].to_numpy(np.float64))
    return out


def customer_universe(dataset: Any) -> pd.Index:
    """Every customer of a dataset, in the one order of :func:`recsys.data.dataset.customer_ids`."""
    return customer_ids(dataset.users, dataset.interactions)


def _prefilter(
    universe: pd.Index, users: pd.DataFrame, spec: AudienceSpec, members: Mapping[str, pd.Series]
) -> tuple[np.ndarray, pd.DataFrame]:
    """Customers in the chosen segments and passing the customer filters, and the funnel so far."""
    n_offers = len(spec.offers)
    keep = np.ones(len(universe), dtype=bool)
    rows = [{STEP: "customers in the dataset", CUSTOMERS: len(universe), PAIRS: len(universe) * n_offers}]
    if spec.segments:
        wanted = pd.concat([pd.Series(m, dtype=object).astype(str) for m in members.values()], ignore_index=True)
        keep &= universe.isin(wanted)
        rows.append({STEP: "in segments", CUSTOMERS: int(keep.sum()), PAIRS: int(keep.sum()) * n_offers})
    if spec.user_filters:
        passes = np.ones(len(users), dtype=bool)
        try:
            for user_filter in spec.user_filters:  # a handful of filters, each vectorised
                passes &= user_filter.mask(users)
        except TargetingError as exc:
            raise CampaignError(str(exc)) from exc
        keep &= universe.isin(users.loc[passes, C.USER_ID].astype(str))
        rows.append({STEP: "customer filters", CUSTOMERS: int(keep.sum()), PAIRS: int(keep.sum()) * n_offers})
    return universe[keep].to_numpy(object), pd.DataFrame(rows, columns=[STEP, CUSTOMERS, PAIRS])


def _check_offers(offers: Iterable[str], model: Any, items: pd.DataFrame | None) -> None:
    offers = np.asarray(list(offers), dtype=object)
    known = model.item_index_.positions(offers) >= 0
    in_table = (np.isin(offers, items[C.ITEM_ID].astype(str).to_numpy(object)) if items is not None and len(items)
                else np.zeros(len(offers), dtype=bool))  # a bool array: ~False would be -1 (integer indexing)
    unknown = offers[~known & ~in_table]
    if len(unknown):
        sample = ", ".join(map(str, model.item_index_.ids[:5]))
        raise CampaignError(
            f"Offer(s) {', '.join(map(str, unknown[:5]))} are neither known to the model nor in the offers table. "
            f"Fix: choose offers of this dataset (e.g. {sample}, ...)."
        )


def score_customers(
    model: Any,
    user_ids: Iterable[Any],
    offers: Iterable[Any],
    *,
    users: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    chunk_users: int = SCORE_CHUNK_USERS,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Model score of every customer for every offer: ``user_id``, ``item_id``, ``score``.

    One vectorised ``recommend`` call (a matrix product) per chunk of ``chunk_users`` customers.
    Customers and offers the model has not seen are scored from their rows in ``users`` /
    ``items`` (cold start); customers found nowhere are scored as customers with no facts. Ids
    come back as categoricals (compact for millions of rows).
    """
    report = progress or (lambda message, share: None)
    ids = pd.unique(np.asarray(pd.Index(user_ids).astype(str), dtype=object))
    offers = pd.unique(np.asarray(pd.Index(offers).astype(str), dtype=object))
    new_items = None
    if (model.item_index_.positions(offers) < 0).any():
        new_items = items[items[C.ITEM_ID].astype(str).isin(offers)] if items is not None else None
    unknown_users = ids[model.user_index_.positions(ids) < 0]
    new_users = None
    if len(unknown_users) and users is not None:
        new_users = users[users[C.USER_ID].astype(str).isin(unknown_users)]
        new_users = new_users.assign(**{C.USER_ID: new_users[C.USER_ID].astype(str)})
    user_type = pd.CategoricalDtype(ids)
    item_type = pd.CategoricalDtype(offers)
    parts = []
    total = max(len(ids), 1)
    for start in range(0, len(ids), chunk_users):  # chunks of customers, one matrix product each
        chunk = ids[start:start + chunk_users]
        report(_("Scoring customers {first}-{last} of {total} for {offers} offer(s)").format(
            first=f"{start + 1:,}", last=f"{start + len(chunk):,}", total=f"{len(ids):,}", offers=len(offers)), start / total)
        chunk_new = None
        if new_users is not None:
            chunk_new = new_users[new_users[C.USER_ID].isin(chunk)]
            chunk_new = chunk_new if len(chunk_new) else None
        reco = model.recommend(chunk, k=len(offers), exclude_seen=False, candidates=offers, unknown="cold",
                               new_users=chunk_new, new_items=new_items)
        parts.append(pd.DataFrame({
            C.USER_ID: pd.Categorical(reco[C.USER_ID].astype(str), dtype=user_type),
            C.ITEM_ID: pd.Categorical(reco[C.ITEM_ID].astype(str), dtype=item_type),
            C.SCORE: reco[C.SCORE].to_numpy(np.float64),
        }))
    report(_("Scored"), 1.0)
    if not parts:
        return pd.DataFrame({C.USER_ID: pd.Categorical([], dtype=user_type),
                             C.ITEM_ID: pd.Categorical([], dtype=item_type), C.SCORE: np.zeros(0)})
    return pd.concat(parts, ignore_index=True)


def _items_with_costs(items: pd.DataFrame, spec: AudienceSpec, percent_of: str | None) -> pd.DataFrame:
    """The offers table, with ``spec.cost_column`` turned into money when it is a percentage."""
    if not spec.cost_column:
        return items
    for column in (spec.cost_column, percent_of):
        if column and column not in items.columns:
            numeric = [c for c in items.columns if pd.api.types.is_numeric_dtype(items[c])]
            raise CampaignError(
                f"The offers table has no column '{column}'. Fix: choose one of its number columns "
                f"({', '.join(map(str, numeric)) or 'none'})."
            )
    cost = pd.to_numeric(items[spec.cost_column], errors="coerce")
    if percent_of:
        cost = cost / 100.0 * pd.to_numeric(items[percent_of], errors="coerce")
        chosen = items[C.ITEM_ID].astype(str).isin(spec.offers).to_numpy()
        bad = chosen & ~(cost > 0).to_numpy()
        if bad.any():
            shown = items.loc[bad, [C.ITEM_ID, spec.cost_column, percent_of]].head(5)
            detail = ", ".join(f"{r[0]} ({r[1]}% of {r[2]})" for r in shown.itertuples(index=False))
            raise CampaignError(
                f"A coupon of offer(s) {detail} costs nothing or is unknown: '{spec.cost_column}' % of "
                f"'{percent_of}' is not above 0. Fix: leave these offers out of a money budget, pick another "
                "cost column, or budget in coupons."
            )
    return items.assign(**{spec.cost_column: cost})


def fairness_adjuster(
    run: Mapping[str, Any], *, model: Any, users: pd.DataFrame | None, items: pd.DataFrame | None
) -> tuple[ScoreAdjuster | None, str | None]:
    """The run's saved fairness re-ranking as a ``score_adjuster``, and a note when it cannot be used.

    A run may hold ``extra["rerank"]`` settings (chosen on the Fairness page). They are applied
    through ``recsys.insight.rerank.score_adjuster(settings, model=..., users=..., items=...)``, which
    returns a function from the eligible pairs (``user_id``, ``item_id``, ``score``) to one
    adjusted score per row. Without that function the list is ranked by model scores and the note
    says so.
    """
    settings = (run.get("extra") or {}).get("rerank")
    if not settings:
        return None, None
    factory = getattr(rerank, "score_adjuster", None)
    if factory is None:
        return None, ("This run has fairness re-ranking settings saved, but this version of PromoLens cannot "
                      "apply them to campaign lists yet: the list is ranked by the model's scores.")
    return factory(settings, model=model, users=users, items=items), None


def _lap(start: float) -> float:
    return round(time.perf_counter() - start, 4)


__all__ = [
    "CampaignRequest", "Campaign", "CampaignError", "SelectionCheck", "build_campaign", "export_campaign",
    "score_customers", "top_reasons", "reason_text", "customer_universe", "offer_choices", "offer_names",
    "score_histogram", "group_mix", "selection_by_group", "fairness_adjuster", "parse_filter",
]
