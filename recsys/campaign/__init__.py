"""Campaigns: from model scores to a targeting list, a safe export, and a measured result.

Every module takes plain frames (scores, customers, offers, interactions); only
:mod:`recsys.workspace.campaign` reads them from a workspace.

* :mod:`~recsys.campaign.spec` - :class:`AudienceSpec` and :class:`UserFilter`: everything that
  defines a targeting list, validated and round-tripping through JSON.
* :mod:`~recsys.campaign.audience` - :func:`build_audience`: eligibility rules, budgets and the
  per-customer cap, then allocation and holdout, with the funnel of who was dropped where.
* :mod:`~recsys.campaign.allocation` - :func:`allocate`: which (customer, offer) pairs get a coupon,
  maximising the total score (greedy when it meets its proven bound, exact LP by column generation, or sampled dual prices) with a proven bound.
* :mod:`~recsys.campaign.holdout` - :func:`assign_holdout`: the stratified, reproducible control group.
* :mod:`~recsys.campaign.ranks` - ranks of pairs within customers or offers by one vectorised sort.
* :mod:`~recsys.campaign.export` - the spreadsheet-safe CSV and JSON manifest of a targeting list.
* :mod:`~recsys.campaign.measure` - joins results back to an export: uplift by arm and score decile.
* :mod:`~recsys.campaign.verdicts` - the measurement's plain-language verdicts and warnings.

The submodules are imported by name (``from recsys.campaign import export``), so a page that only
exports or measures does not load the LP solver.
"""

__all__ = ["spec", "audience", "allocation", "holdout", "ranks", "export", "measure", "verdicts"]
