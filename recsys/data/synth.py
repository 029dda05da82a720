"""Realistic synthetic shop data with a documented planted truth.

:func:`generate` makes a shop of customers, offers (coupons / campaigns) and about six months of
events (impression -> click -> redeem -> purchase with value). Behaviour is driven by structure that is
written down in :attr:`SyntheticShop.truth`, so a model, an explanation, a segmentation or a fairness
audit can be checked against what is really there:

* every customer has a hidden *persona* (bargain hunter, brand loyal, category explorer, premium,
  occasional); the observed ``segment`` matches it for ~85% of customers;
* bargain hunters respond much more to deep discounts (``discount_depth >= 30``): the headline driver;
* each customer likes 1-3 categories, drawn from persona and age-band priors plus idiosyncratic noise,
  and a small latent user x offer factor adds purely collaborative signal;
* customers in region ``north`` respond more to ``app`` offers;
* offers have a Zipf-like base attractiveness and exposure (popularity skew); logit noise on top;
* optionally (``plant_bias=True``) the exposure policy shows deep-discount offers to the ``55+`` age
  band at half the rate, while their true response is unchanged.

Everything is vectorised over whole arrays (loops only run over a handful of personas, categories or
campaign types) and deterministic for a given seed. This module is the entry (config, :func:`generate`, files,
true probabilities); the steps live beside it: :mod:`recsys.data.synth_vocab` (column names, labels, personas),
:mod:`recsys.data.synth_customers`, :mod:`recsys.data.synth_offers`, :mod:`recsys.data.synth_events` and
:mod:`recsys.data.synth_truth`.

>>> shop = generate(n_users=200, n_items=30, seed=1)
>>> sorted(shop.truth["personas"])[:2]
['bargain_hunter', 'brand_loyal']
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.core import columns as cols
from recsys.data.synth_customers import make_users, users_frame
from recsys.data.synth_events import click_mean_logit, events_frame, make_events, pair_taste, redeem_mean_logit, sigmoid
from recsys.data.synth_offers import items_frame, make_items
from recsys.data.synth_truth import make_truth
from recsys.data.synth_vocab import (
    AGE_BANDS, CHANNELS, DATE_DTYPE, DISCOUNT_DEPTH, END_DATE, ITEM_COLUMNS, MIN_SPEND, REGIONS, SIGNUP_DATE,
    START_DATE, TIMESTAMP_DTYPE,
)

USERS_FILE = "users.csv"
ITEMS_FILE = "items.csv"
INTERACTIONS_FILE = "interactions.csv"
TRUTH_FILE = "truth.json"
PAST_CAMPAIGNS_FILE = "past_campaigns.csv"
GZIP_ABOVE_ROWS = 100_000  # interactions files longer than this are written gzipped


@dataclass(frozen=True)
class SynthConfig:
    """Every parameter of the synthetic shop (JSON-able; ``to_dict``/``from_dict`` round-trip).

    Logit effects are on the log-odds scale of the click (per impression) or the redeem (per click)
    probability. Persona-specific effects live in :data:`recsys.data.synth_vocab.PERSONAS`.
    """

    n_users: int = 4000
    n_items: int = 150
    seed: int = 0
    days: int = 182
    end_date: str = "2026-06-30"
    plant_bias: bool = False  # under-expose one age band to deep discounts (for fairness audits)
    bias_age_band: str = "55+"
    bias_exposure_ratio: float = 0.5  # that band's deep-discount impressions are kept with this probability
    impressions_per_user: float = 60.0  # mean for an average-activity customer active the whole period
    activity_sigma: float = 0.5  # log-normal spread of customer activity
    segment_agreement: float = 0.85  # P(observed segment == persona's segment)
    deep_discount_threshold: float = 30.0
    click_intercept: float = -3.3
    redeem_intercept: float = -1.3
    purchase_rate: float = 0.85  # P(purchase | redeem)
    discount_slope: float = 0.01  # click logit per discount point, everyone
    taste_strength: float = 2.0  # click logit of a liked category (times the persona multiplier)
    taste_redeem: float = 0.5  # redeem logit of a liked category
    taste_idiosyncrasy: float = 1.0  # Gumbel scale of the individual part of category tastes
    popularity_exponent: float = 1.0  # Zipf exponent of offer base attractiveness
    popularity_strength: float = 0.4  # click logit per unit of -log(rank), centred
    exposure_skew: float = 0.4  # impressions per active day proportional to rank ** -exposure_skew
    targeted_share: float = 0.5  # impressions chosen by the shop's rule-based targeting (a liked category)
    flash_sale_exposure: float = 3.0  # flash sales are pushed this much harder per day
    channel_region: str = "north"
    preferred_channel: str = "app"
    channel_boost: float = 1.0  # click logit of preferred_channel offers in channel_region
    latent_dim: int = 4
    latent_strength: float = 0.5  # click logit scale of the purely collaborative user x offer factor
    noise: float = 0.5  # sd of per-impression logit noise
    evergreen_share: float = 0.08  # offers that run for the whole period
    signup_years: float = 3.0  # signups spread over this many years before end_date

    def to_dict(self) -> dict[str, Any]:
        """All parameters as a JSON-able dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SynthConfig":
        """Build a config from :meth:`to_dict` output; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"Unknown SynthConfig parameter(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
            )
        return cls(**data)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the parameter when a value is out of range."""
        checks = [
            (self.n_users >= 1, "n_users must be >= 1"),
            (self.n_items >= 5, "n_items must be >= 5"),
            (self.days >= 14, "days must be >= 14"),
            (0.0 <= self.segment_agreement <= 1.0, "segment_agreement must be in [0, 1]"),
            (0.0 <= self.bias_exposure_ratio <= 1.0, "bias_exposure_ratio must be in [0, 1]"),
            (0.0 <= self.purchase_rate <= 1.0, "purchase_rate must be in [0, 1]"),
            (0.0 <= self.evergreen_share <= 1.0, "evergreen_share must be in [0, 1]"),
            (0.0 <= self.targeted_share <= 1.0, "targeted_share must be in [0, 1]"),
            (self.impressions_per_user > 0, "impressions_per_user must be > 0"),
            (self.latent_dim >= 1, "latent_dim must be >= 1"),
            (self.noise >= 0 and self.activity_sigma >= 0, "noise and activity_sigma must be >= 0"),
            (self.bias_age_band in AGE_BANDS, f"bias_age_band must be one of {AGE_BANDS}"),
            (self.channel_region in REGIONS, f"channel_region must be one of {REGIONS}"),
            (self.preferred_channel in CHANNELS, f"preferred_channel must be one of {CHANNELS}"),
            (self.signup_years > 0, "signup_years must be > 0"),
        ]
        problems = [msg for ok, msg in checks if not ok]
        try:
            pd.Timestamp(self.end_date)
        except ValueError:
            problems.append(f"end_date {self.end_date!r} is not a date (use YYYY-MM-DD)")
        if problems:
            raise ValueError("Invalid SynthConfig: " + "; ".join(problems) + ".")


@dataclass(frozen=True)
class SyntheticShop:
    """A generated shop: three tables of the data contract plus the planted truth.

    ``interactions`` has ``user_id, item_id, event, timestamp, value``; ``value`` is the order revenue
    on purchases (> 0) and ``0.0`` on every other event. Rows are sorted by time.
    """

    interactions: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame
    truth: dict[str, Any]
    #: The generator's hidden per-customer and per-offer arrays (persona codes, liked categories,
    #: latent factors, ...), kept only on a freshly generated shop (never written to the CSVs); what
    #: :func:`true_response_probability` reads. ``None`` on a shop read back by :func:`load_sample`.
    hidden: dict[str, Any] | None = dataclasses.field(default=None, compare=False, repr=False)
    #: Past randomised coupon campaigns (treatment + control, outcomes), from their own random
    #: stream (:mod:`recsys.data.past_campaigns`); ``None`` when a folder read back has none.
    past_campaigns: pd.DataFrame | None = dataclasses.field(default=None, compare=False, repr=False)


# ================================================================================================
# public API
# ================================================================================================
def generate(config: SynthConfig | None = None, **overrides: Any) -> SyntheticShop:
    """Generate a synthetic shop.

    Parameters
    ----------
    config
        All parameters; the defaults of :class:`SynthConfig` when omitted.
    **overrides
        Fields of :class:`SynthConfig` to change, e.g. ``n_users=500``.

    Returns
    -------
    SyntheticShop
        Interactions, users, items and the JSON-able planted truth.

    Examples
    --------
    >>> from recsys.data.synth_vocab import EVENTS
    >>> shop = generate(n_users=100, n_items=20, seed=3)
    >>> set(shop.interactions[cols.EVENT]) <= set(EVENTS)
    True
    """
    config = config or SynthConfig()
    if overrides:
        known = {f.name for f in dataclasses.fields(SynthConfig)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"Unknown SynthConfig parameter(s): {', '.join(unknown)}.")
        config = dataclasses.replace(config, **overrides)
    config.validate()
    # Independent streams: the users table does not change when only n_items changes, and so on.
    rng_users, rng_items, rng_events = (
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(3)
    )
    end = pd.Timestamp(config.end_date).normalize()
    start = end - pd.Timedelta(days=config.days - 1)
    users = make_users(config, rng_users, start)
    items = make_items(config, rng_items, start)
    events = make_events(config, rng_events, users, items)
    interactions = events_frame(events, users["ids"], items["ids"], start)
    truth = make_truth(config, users, items, events, start, end)
    shop = SyntheticShop(
        interactions=interactions,
        users=users_frame(users),
        items=items_frame(items, start),
        truth=truth,
        hidden={"config": config, "users": users, "items": items},
    )
    from recsys.data.past_campaigns import past_campaigns

    past, past_truth = past_campaigns(shop)
    truth["past_campaigns"] = json.loads(json.dumps(past_truth))
    return dataclasses.replace(shop, past_campaigns=past)


def write_sample(shop: SyntheticShop, out_dir: str | Path, compress: bool | None = None) -> dict[str, Path]:
    """Write a shop as CSV files plus ``truth.json``.

    Parameters
    ----------
    shop
        The shop to write.
    out_dir
        Folder to write into (created when missing). Existing files of the same names are replaced.
    compress
        Gzip the interactions file (``interactions.csv.gz``). ``None`` gzips it when it has more than
        ``GZIP_ABOVE_ROWS`` rows.

    Returns
    -------
    dict[str, Path]
        ``{"users": ..., "items": ..., "interactions": ..., "truth": ...}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if compress is None:
        compress = len(shop.interactions) > GZIP_ABOVE_ROWS
    paths = {
        "users": out / USERS_FILE,
        "items": out / ITEMS_FILE,
        "interactions": out / (INTERACTIONS_FILE + (".gz" if compress else "")),
        "truth": out / TRUTH_FILE,
    }
    if shop.past_campaigns is not None:
        paths["past_campaigns"] = out / PAST_CAMPAIGNS_FILE
    stale = out / (INTERACTIONS_FILE if compress else INTERACTIONS_FILE + ".gz")
    if stale.exists():  # never leave two interactions files that disagree
        stale.unlink()
    shop.users.to_csv(paths["users"], index=False, date_format="%Y-%m-%d", lineterminator="\n")
    shop.items.to_csv(paths["items"], index=False, date_format="%Y-%m-%d", lineterminator="\n")
    shop.interactions.to_csv(
        paths["interactions"], index=False, date_format="%Y-%m-%d %H:%M:%S", lineterminator="\n",
        compression={"method": "gzip", "mtime": 0} if compress else None,
    )
    if shop.past_campaigns is not None:
        shop.past_campaigns.to_csv(paths["past_campaigns"], index=False, date_format="%Y-%m-%d", lineterminator="\n")
    paths["truth"].write_text(json.dumps(shop.truth, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return paths


def load_truth(path: str | Path) -> dict[str, Any]:
    """Read a ``truth.json`` (or the one inside a folder written by :func:`write_sample`)."""
    path = Path(path)
    if path.is_dir():
        path = path / TRUTH_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"No planted-truth file at {path}.") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON (line {exc.lineno}): {exc.msg}.") from None
    if not isinstance(data, dict) or "personas" not in data:
        raise ValueError(f"{path} is not a PromoLens planted-truth file (no 'personas' section).")
    return data


def load_sample(folder: str | Path) -> SyntheticShop:
    """Read back a folder written by :func:`write_sample`, with the dtypes :func:`generate` gives."""
    folder = Path(folder)
    inter_path = folder / INTERACTIONS_FILE
    if not inter_path.exists():
        inter_path = folder / (INTERACTIONS_FILE + ".gz")
    interactions = pd.read_csv(inter_path, dtype={cols.USER_ID: "str", cols.ITEM_ID: "str", cols.EVENT: "str"})
    interactions[cols.TIMESTAMP] = pd.to_datetime(interactions[cols.TIMESTAMP]).astype(TIMESTAMP_DTYPE)
    interactions[cols.VALUE] = interactions[cols.VALUE].astype("float64")
    users = pd.read_csv(folder / USERS_FILE, dtype="str")
    users[SIGNUP_DATE] = pd.to_datetime(users[SIGNUP_DATE]).astype(DATE_DTYPE)
    items = pd.read_csv(folder / ITEMS_FILE, dtype={c: "str" for c in ITEM_COLUMNS
                                                     if c not in (DISCOUNT_DEPTH, MIN_SPEND)})
    for name in (START_DATE, END_DATE):
        items[name] = pd.to_datetime(items[name]).astype(DATE_DTYPE)
    for name in (DISCOUNT_DEPTH, MIN_SPEND):
        items[name] = items[name].astype("float64")
    past = None
    if (folder / PAST_CAMPAIGNS_FILE).exists():
        from recsys.data.past_campaigns import read_past_campaigns

        past = read_past_campaigns(folder / PAST_CAMPAIGNS_FILE)
    return SyntheticShop(interactions, users, items, load_truth(folder), past_campaigns=past)


def with_hidden(shop: SyntheticShop) -> SyntheticShop:
    """The shop with its hidden generator arrays: itself when it has them, else regenerated from
    ``truth["config"]`` (a shop read back by :func:`load_sample` keeps only the CSVs and the truth)."""
    if shop.hidden is not None:
        return shop
    return generate(SynthConfig.from_dict(shop.truth["config"]))


#: Gauss-Hermite nodes for E[sigmoid(m + noise)] with Gaussian noise (exact enough to 1e-6).
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(24)


def _expected_sigmoid(mean_logit: np.ndarray, sd: float) -> np.ndarray:
    """E[sigmoid(mean_logit + N(0, sd^2))], by Gauss-Hermite quadrature, vectorised."""
    if sd <= 0:
        return sigmoid(mean_logit)
    return sigmoid(mean_logit[:, None] + sd * _GH_NODES[None, :]) @ (_GH_WEIGHTS / _GH_WEIGHTS.sum())


def true_response_probability(shop: SyntheticShop, user_ids: Any, item_ids: Any) -> np.ndarray:
    """The generator's TRUE probability that a customer redeems an offer if it is sent once.

    ``P(click | impression) x P(redeem | click)`` with the generator's own logits, averaged over
    its per-impression noise (the two noises are independent) and without its random draws; it
    ignores only that a click or redeem falling after the offer's last day does not happen. This
    is what a targeting list should be judged by on a synthetic shop (never shown in the app).

    Parameters
    ----------
    shop
        A generated shop (a shop read back by :func:`load_sample` is regenerated from its config).
    user_ids, item_ids
        Pairs: equal lengths, or one of them a single id broadcast against the other.

    Returns
    -------
    np.ndarray
        One probability in [0, 1] per pair.

    Examples
    --------
    >>> shop = generate(n_users=50, n_items=10, seed=2)
    >>> p = true_response_probability(shop, ["C000001", "C000002"], "OFF0001")
    >>> p.shape, bool(((p >= 0) & (p <= 1)).all())
    ((2,), True)
    """
    shop = with_hidden(shop)
    assert shop.hidden is not None
    config, u, it = shop.hidden["config"], shop.hidden["users"], shop.hidden["items"]
    users = np.atleast_1d(np.asarray(user_ids, dtype=object)).astype(str)
    items = np.atleast_1d(np.asarray(item_ids, dtype=object)).astype(str)
    users, items = np.broadcast_arrays(users, items)
    user = pd.Index(np.asarray(u["ids"], dtype=object).astype(str)).get_indexer(users)
    item = pd.Index(np.asarray(it["ids"], dtype=object).astype(str)).get_indexer(items)
    if (user < 0).any() or (item < 0).any():
        bad = np.concatenate([users[user < 0], items[item < 0]])[:5]
        raise ValueError(f"true_response_probability: unknown customer or offer id(s) {bad.tolist()}.")
    liked, latent = pair_taste(config, u, it, user, item)
    click = _expected_sigmoid(click_mean_logit(config, u, it, user, item, liked, latent), config.noise)
    redeem = _expected_sigmoid(redeem_mean_logit(config, u, it, user, item, liked, latent), config.noise)
    return click * redeem


def true_response_block(shop: SyntheticShop, user_ids: Any, item_ids: Any) -> np.ndarray:
    """:func:`true_response_probability` of every customer x offer pair, shape (customers, offers)."""
    users = np.asarray(user_ids, dtype=object)
    items = np.asarray(item_ids, dtype=object)
    p = true_response_probability(shop, np.repeat(users, len(items)), np.tile(items, len(users)))
    return p.reshape(len(users), len(items))


def user_personas(shop: SyntheticShop) -> pd.Series:
    """Each customer's hidden persona name (index ``user_id``), from the planted truth."""
    return pd.Series(shop.truth["user_persona"], name="persona").rename_axis(cols.USER_ID)
