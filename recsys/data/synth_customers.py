"""The synthetic shop's customers (:mod:`recsys.data.synth`): hidden persona, observed segment and traits,
category tastes, activity and a latent factor per customer, drawn vectorised; and the users table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys.core import columns as cols
from recsys.data.synth_vocab import (
    AGE_BAND, AGE_BANDS, AGE_BAND_SHARES, AGE_CATEGORY_WEIGHTS, CATEGORIES, DATE_DTYPE, EMAIL, GENDER, GENDERS,
    GENDER_SHARES, LOYALTY_TIER, LOYALTY_TIERS, PERSONAS, REGION, REGIONS, REGION_SHARES, SEGMENT, SEGMENTS,
    SIGNUP_DATE, labels,
)

if TYPE_CHECKING:
    from recsys.data.synth import SynthConfig


_FIRST_NAMES = np.array([
    "anna", "ben", "carla", "dev", "emma", "farid", "grace", "hugo", "ines", "jon", "kim", "leo",
    "maya", "nils", "olga", "priya", "quinn", "rosa", "sam", "tariq", "uma", "vic", "wen", "yusuf",
])
_LAST_NAMES = np.array([
    "smith", "jones", "garcia", "muller", "rossi", "dubois", "novak", "khan", "silva", "kowalski",
    "tanaka", "olsen", "byrne", "costa", "meyer", "ahmed", "larsen", "moreau", "lopez", "weber",
])


def _choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs`` (rows sum to 1), vectorised."""
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0
    return (rng.random(len(probs))[:, None] >= cum).sum(axis=1)


def _weights_matrix(rows: list[dict[str, float]], names: tuple[str, ...]) -> np.ndarray:
    """Rows of named weights (unlisted names weigh 1) as a matrix over ``names``."""
    return np.array([[row.get(n, 1.0) for n in names] for row in rows], dtype="float64")


def make_users(config: SynthConfig, rng: np.random.Generator, start: pd.Timestamp) -> dict[str, Any]:
    n, k = config.n_users, len(PERSONAS)
    persona = rng.choice(k, size=n, p=[p.share for p in PERSONAS])
    shifted = (persona + rng.integers(1, k, size=n)) % k  # uniform over the *other* segments
    segment = np.where(rng.random(n) < config.segment_agreement, persona, shifted)
    region = rng.choice(len(REGIONS), size=n, p=REGION_SHARES)
    age = rng.choice(len(AGE_BANDS), size=n, p=AGE_BAND_SHARES)
    gender = rng.choice(len(GENDERS), size=n, p=GENDER_SHARES)
    tier = _choice_rows(rng, np.array([p.tier_probs for p in PERSONAS])[persona])
    signup_span = int(round(config.signup_years * 365))
    signup_days_before_end = rng.integers(7, max(signup_span, 8), size=n)
    signup_day = (config.days - 1) - signup_days_before_end  # day index relative to start (may be < 0)

    activity = np.array([p.activity for p in PERSONAS])[persona] * rng.lognormal(
        -0.5 * config.activity_sigma**2, config.activity_sigma, size=n
    )
    # Category tastes: persona prior x age-band prior x individual Gumbel noise; the top k are liked.
    prior = np.log(_weights_matrix([p.category_weights for p in PERSONAS], CATEGORIES))[persona]
    prior += np.log(_weights_matrix([AGE_CATEGORY_WEIGHTS.get(b, {}) for b in AGE_BANDS], CATEGORIES))[age]
    score = prior + config.taste_idiosyncrasy * rng.gumbel(size=(n, len(CATEGORIES)))
    n_liked = _choice_rows(rng, np.array([p.n_liked_probs for p in PERSONAS])[persona]) + 1
    rank = np.argsort(np.argsort(-score, axis=1), axis=1)
    liked = rank < n_liked[:, None]
    latent = rng.normal(size=(n, config.latent_dim))

    number = np.arange(1, n + 1)
    ids = pd.array(np.char.add("C", np.char.zfill(number.astype(str), 6)), dtype="str")
    first = _FIRST_NAMES[rng.integers(0, len(_FIRST_NAMES), size=n)]
    last = _LAST_NAMES[rng.integers(0, len(_LAST_NAMES), size=n)]
    email = np.char.add(np.char.add(np.char.add(first, "."), np.char.add(last, number.astype(str))), "@example.com")
    return {
        "ids": ids, "persona": persona, "segment": segment, "region": region, "age": age,
        "gender": gender, "tier": tier, "signup_day": signup_day, "start": start, "activity": activity,
        "liked": liked, "latent": latent, "email": email,
    }


def users_frame(u: dict[str, Any]) -> pd.DataFrame:
    start: pd.Timestamp = u["start"]
    signup = start.to_datetime64().astype("datetime64[D]") + u["signup_day"].astype("timedelta64[D]")
    return pd.DataFrame({
        cols.USER_ID: u["ids"],
        SEGMENT: labels(SEGMENTS, u["segment"]),
        REGION: labels(REGIONS, u["region"]),
        AGE_BAND: labels(AGE_BANDS, u["age"]),
        GENDER: labels(GENDERS, u["gender"]),
        LOYALTY_TIER: labels(LOYALTY_TIERS, u["tier"]),
        SIGNUP_DATE: signup.astype(DATE_DTYPE),
        EMAIL: pd.array(u["email"], dtype="str"),
    })
