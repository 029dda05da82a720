"""Tests of the synthetic shop generator (recsys.data.synth)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.core import columns as cols
from recsys.data import synth, synth_truth, synth_vocab
from recsys.data.synth import SynthConfig, generate, load_sample, load_truth, write_sample

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"
SMALL = dict(n_users=500, n_items=40)


@pytest.fixture(scope="module")
def small() -> synth.SyntheticShop:
    return generate(seed=7, **SMALL)


@pytest.fixture(scope="module")
def medium() -> synth.SyntheticShop:
    """Large enough for planted effects to be measured with little sampling noise (~0.1 s)."""
    return generate(n_users=2000, n_items=60, seed=3)


def _with_users_items(shop: synth.SyntheticShop) -> pd.DataFrame:
    return (
        shop.interactions
        .merge(shop.users, on=cols.USER_ID, how="left", validate="many_to_one")
        .merge(shop.items, on=cols.ITEM_ID, how="left", validate="many_to_one")
    )


# --- config ------------------------------------------------------------------------------------
def test_config_round_trips_through_json():
    config = SynthConfig(n_users=123, plant_bias=True, noise=0.3)
    again = SynthConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config


def test_config_rejects_unknown_and_out_of_range_parameters():
    with pytest.raises(ValueError, match="Unknown SynthConfig parameter.*colour"):
        SynthConfig.from_dict({"n_users": 10, "colour": "red"})
    with pytest.raises(ValueError, match="Unknown SynthConfig parameter.*n_user"):
        generate(n_user=10)
    with pytest.raises(ValueError, match="segment_agreement"):
        generate(n_users=10, n_items=10, segment_agreement=1.5)
    with pytest.raises(ValueError, match="end_date"):
        generate(n_users=10, n_items=10, end_date="not a date")


# --- determinism -------------------------------------------------------------------------------
def test_same_seed_gives_identical_shop(small):
    again = generate(seed=7, **SMALL)
    pd.testing.assert_frame_equal(again.interactions, small.interactions)
    pd.testing.assert_frame_equal(again.users, small.users)
    pd.testing.assert_frame_equal(again.items, small.items)
    assert again.truth == small.truth


def test_different_seeds_give_different_shops(small):
    other = generate(seed=8, **SMALL)
    assert not other.users[synth_vocab.SEGMENT].equals(small.users[synth_vocab.SEGMENT])
    assert not other.items[synth_vocab.DISCOUNT_DEPTH].equals(small.items[synth_vocab.DISCOUNT_DEPTH])
    assert len(other.interactions) != len(small.interactions) or not other.interactions.equals(small.interactions)


def test_users_do_not_depend_on_the_number_of_items():
    a, b = generate(seed=5, n_users=300, n_items=20), generate(seed=5, n_users=300, n_items=50)
    pd.testing.assert_frame_equal(a.users, b.users)


# --- schema ------------------------------------------------------------------------------------
def test_tables_have_the_contract_columns_and_dtypes(small):
    inter, users, items = small.interactions, small.users, small.items
    assert list(inter.columns) == [cols.USER_ID, cols.ITEM_ID, cols.EVENT, cols.TIMESTAMP, cols.VALUE]
    assert list(users.columns) == list(synth_vocab.USER_COLUMNS)
    assert list(items.columns) == list(synth_vocab.ITEM_COLUMNS)
    assert pd.api.types.is_datetime64_any_dtype(inter[cols.TIMESTAMP])
    assert pd.api.types.is_float_dtype(inter[cols.VALUE])
    for frame, name in [(inter, cols.USER_ID), (inter, cols.ITEM_ID), (inter, cols.EVENT), (users, synth_vocab.SEGMENT)]:
        assert pd.api.types.is_string_dtype(frame[name]), name
    for name in (synth_vocab.DISCOUNT_DEPTH, synth_vocab.MIN_SPEND):
        assert pd.api.types.is_numeric_dtype(items[name]), name
    for frame, name in [(users, synth_vocab.SIGNUP_DATE), (items, synth_vocab.START_DATE), (items, synth_vocab.END_DATE)]:
        assert pd.api.types.is_datetime64_any_dtype(frame[name]), name
    assert not users.isna().any().any() and not items.isna().any().any() and not inter.isna().any().any()


def test_ids_are_well_formed_unique_and_referenced(small):
    users, items, inter = small.users, small.items, small.interactions
    assert len(users) == SMALL["n_users"] and len(items) == SMALL["n_items"]
    assert users[cols.USER_ID].str.fullmatch(r"C\d{6}").all() and users[cols.USER_ID].is_unique
    assert items[cols.ITEM_ID].str.fullmatch(r"OFF\d{4}").all() and items[cols.ITEM_ID].is_unique
    assert inter[cols.USER_ID].isin(users[cols.USER_ID]).all()
    assert inter[cols.ITEM_ID].isin(items[cols.ITEM_ID]).all()
    assert set(inter[cols.EVENT]) == {cols.IMPRESSION, cols.CLICK, cols.REDEEM, cols.PURCHASE}


def test_users_and_items_take_values_from_the_documented_vocabulary(small):
    users, items = small.users, small.items
    assert set(users[synth_vocab.SEGMENT]) <= set(synth_vocab.SEGMENTS)
    assert set(users[synth_vocab.AGE_BAND]) <= set(synth_vocab.AGE_BANDS)
    assert set(users[synth_vocab.REGION]) <= set(synth_vocab.REGIONS)
    assert users[synth_vocab.EMAIL].str.fullmatch(r"[a-z]+\.[a-z]+\d+@example\.com").all()
    assert users[synth_vocab.EMAIL].is_unique
    assert items[synth_vocab.TITLE].is_unique
    assert set(items[synth_vocab.CAMPAIGN_TYPE]) <= set(synth_vocab.CAMPAIGN_TYPES)
    assert set(items[synth_vocab.CHANNEL]) <= set(synth_vocab.CHANNELS)
    assert items[synth_vocab.DISCOUNT_DEPTH].between(1, 100).all()
    assert (items[synth_vocab.DESCRIPTION].str.split().str.len() >= 5).all()
    deep = items[synth_vocab.DISCOUNT_DEPTH] >= 30
    assert (items[synth_vocab.TAGS].str.contains("deep-discount", regex=False) == deep).all()


def test_interactions_are_sorted_by_time(small):
    assert small.interactions[cols.TIMESTAMP].is_monotonic_increasing


# --- time windows and funnel -------------------------------------------------------------------
def test_events_fall_inside_offer_window_period_and_after_signup(small):
    df = _with_users_items(small)
    ts, day = df[cols.TIMESTAMP], df[cols.TIMESTAMP].dt.normalize()
    assert (day >= df[synth_vocab.START_DATE]).all() and (day <= df[synth_vocab.END_DATE]).all()
    assert (day >= df[synth_vocab.SIGNUP_DATE]).all()
    period = small.truth["period"]
    assert ts.min() >= pd.Timestamp(period["start"]) and ts.max() < pd.Timestamp(period["end"]) + pd.Timedelta(days=1)
    span = small.items[synth_vocab.END_DATE] - small.items[synth_vocab.START_DATE]
    assert (span >= pd.Timedelta(0)).all()


def _has_earlier(later: pd.DataFrame, earlier: pd.DataFrame) -> pd.Series:
    """For each row of ``later``, whether ``earlier`` has a row of the same pair strictly before it."""
    key = [cols.USER_ID, cols.ITEM_ID]
    first = earlier.groupby(key, as_index=False)[cols.TIMESTAMP].min().rename(columns={cols.TIMESTAMP: "first"})
    merged = later.merge(first, on=key, how="left")
    return merged["first"].notna() & (merged["first"] < merged[cols.TIMESTAMP])


def test_funnel_steps_follow_each_other(small):
    inter = small.interactions
    by_event = {e: inter[inter[cols.EVENT] == e] for e in synth_vocab.EVENTS}
    assert _has_earlier(by_event[cols.CLICK], by_event[cols.IMPRESSION]).all()
    assert _has_earlier(by_event[cols.REDEEM], by_event[cols.CLICK]).all()
    assert _has_earlier(by_event[cols.PURCHASE], by_event[cols.REDEEM]).all()
    pair = [cols.USER_ID, cols.ITEM_ID]
    assert not by_event[cols.REDEEM].duplicated(pair).any()  # single-use coupons
    assert not by_event[cols.PURCHASE].duplicated(pair).any()
    counts = inter[cols.EVENT].value_counts()
    assert counts[cols.IMPRESSION] > counts[cols.CLICK] > counts[cols.REDEEM] > counts[cols.PURCHASE] > 0


def test_value_is_positive_exactly_on_purchases(small):
    inter = small.interactions
    is_purchase = inter[cols.EVENT] == cols.PURCHASE
    assert (inter.loc[is_purchase, cols.VALUE] > 0).all()
    assert (inter.loc[~is_purchase, cols.VALUE] == 0).all()


def test_weekends_get_more_traffic_than_early_weekdays(medium):
    imp = medium.interactions[medium.interactions[cols.EVENT] == cols.IMPRESSION]
    per_weekday = imp[cols.TIMESTAMP].dt.day_of_week.value_counts()
    assert per_weekday[5] > 1.2 * per_weekday[0]  # Saturday vs Monday (planted 1.30 / 0.90)


# --- planted structure is measurable in the raw data -------------------------------------------
def test_price_sensitive_segment_redeems_far_more_on_deep_discounts(medium):
    df = _with_users_items(medium)
    imp = df[df[cols.EVENT] == cols.IMPRESSION]
    red = df[df[cols.EVENT] == cols.REDEEM]
    deep_imp = imp[synth_vocab.DISCOUNT_DEPTH] >= 30
    deep_red = red[synth_vocab.DISCOUNT_DEPTH] >= 30

    def redeem_rate(segment: str, deep: bool) -> float:
        n_imp = ((imp[synth_vocab.SEGMENT] == segment) & (deep_imp == deep)).sum()
        n_red = ((red[synth_vocab.SEGMENT] == segment) & (deep_red == deep)).sum()
        return n_red / n_imp

    lift_deal = redeem_rate("deal_seeker", True) / redeem_rate("deal_seeker", False)
    lift_premium = redeem_rate("premium", True) / redeem_rate("premium", False)
    assert lift_deal > 3.0
    assert lift_premium < 1.5
    assert redeem_rate("deal_seeker", True) > 2 * redeem_rate("premium", True)


def test_north_clicks_more_on_app_offers(medium):
    df = _with_users_items(medium)
    imp = df[df[cols.EVENT] == cols.IMPRESSION].groupby([synth_vocab.REGION, synth_vocab.CHANNEL]).size()
    clk = df[df[cols.EVENT] == cols.CLICK].groupby([synth_vocab.REGION, synth_vocab.CHANNEL]).size()
    rate = (clk / imp).unstack()
    north_lift = rate.loc["north", "app"] / rate.loc["north", "web"]
    others_lift = (rate.loc[rate.index != "north", "app"] / rate.loc[rate.index != "north", "web"]).max()
    assert north_lift > 1.5 * others_lift


def test_customers_click_more_on_their_liked_categories(medium):
    liked = medium.truth["user_liked_categories"]
    df = _with_users_items(medium)
    likes = df[cols.USER_ID].map(liked).str.split("|")
    df = df.assign(liked=[c in l for c, l in zip(df[synth_vocab.CATEGORY], likes)])
    imp = df[df[cols.EVENT] == cols.IMPRESSION].groupby("liked").size()
    clk = df[df[cols.EVENT] == cols.CLICK].groupby("liked").size()
    rate = clk / imp
    assert rate[True] > 2.5 * rate[False]


def test_offer_popularity_is_skewed(medium):
    positives = medium.interactions[medium.interactions[cols.EVENT] != cols.IMPRESSION]
    counts = positives[cols.ITEM_ID].value_counts().reindex(medium.items[cols.ITEM_ID], fill_value=0)
    assert synth_truth.gini(counts.to_numpy()) > 0.4
    assert synth_truth.gini(np.ones(10)) == pytest.approx(0.0)  # the measure itself can tell equal from skewed
    # The planted Zipf rank drives clicks per day on show (window lengths alone also skew counts).
    items = medium.items.set_index(cols.ITEM_ID)
    days_on_show = (items[synth_vocab.END_DATE] - items[synth_vocab.START_DATE]).dt.days + 1
    clicks = medium.interactions.loc[medium.interactions[cols.EVENT] == cols.CLICK, cols.ITEM_ID].value_counts()
    per_day = clicks.reindex(items.index, fill_value=0) / days_on_show
    rank = pd.Series(medium.truth["popularity"]["offer_rank"])
    assert rank.corr(per_day, method="spearman") < -0.4


def test_segment_matches_persona_for_about_85_percent(medium):
    persona = medium.users[cols.USER_ID].map(medium.truth["user_persona"])
    expected_segment = persona.map({p.name: p.segment for p in synth_vocab.PERSONAS})
    agreement = (expected_segment == medium.users[synth_vocab.SEGMENT]).mean()
    assert 0.81 < agreement < 0.89
    assert set(medium.truth["user_persona"]) == set(medium.users[cols.USER_ID])


def test_gender_has_no_planted_effect(medium):
    df = _with_users_items(medium)
    per = df.groupby([synth_vocab.GENDER, cols.EVENT]).size().unstack()
    ctr = (per[cols.CLICK] / per[cols.IMPRESSION]).loc[["F", "M"]]
    assert abs(ctr["F"] - ctr["M"]) < 0.03


# --- exposure bias -----------------------------------------------------------------------------
def _deep_impressions_per_user(shop: synth.SyntheticShop, band: str) -> float:
    df = _with_users_items(shop)
    mine = (df[cols.EVENT] == cols.IMPRESSION) & (df[synth_vocab.AGE_BAND] == band) & (df[synth_vocab.DISCOUNT_DEPTH] >= 30)
    return mine.sum() / (shop.users[synth_vocab.AGE_BAND] == band).sum()


def test_plant_bias_halves_deep_discount_exposure_of_the_target_age_band(medium):
    biased = generate(n_users=2000, n_items=60, seed=3, plant_bias=True)
    ratio = _deep_impressions_per_user(biased, "55+") / _deep_impressions_per_user(medium, "55+")
    assert 0.4 < ratio < 0.6
    assert _deep_impressions_per_user(biased, "25-34") == _deep_impressions_per_user(medium, "25-34")
    assert biased.truth["bias"]["enabled"] is True and medium.truth["bias"]["enabled"] is False
    # Customers outside the band see exactly the same events.
    other = ~biased.users.set_index(cols.USER_ID)[synth_vocab.AGE_BAND].eq("55+")
    keep = lambda s: s.interactions[s.interactions[cols.USER_ID].map(other)].reset_index(drop=True)
    pd.testing.assert_frame_equal(keep(biased), keep(medium))


# --- files -------------------------------------------------------------------------------------
def test_write_sample_round_trips(tmp_path, small):
    paths = write_sample(small, tmp_path)
    assert set(paths) == {"users", "items", "interactions", "truth", "past_campaigns"}
    assert paths["interactions"].name == "interactions.csv"  # small: not gzipped
    assert load_truth(paths["truth"]) == small.truth
    assert load_truth(tmp_path) == small.truth
    back = load_sample(tmp_path)
    pd.testing.assert_frame_equal(back.interactions, small.interactions)
    pd.testing.assert_frame_equal(back.users, small.users)
    pd.testing.assert_frame_equal(back.items, small.items)
    pd.testing.assert_frame_equal(back.past_campaigns, small.past_campaigns)


def test_write_sample_gzip_replaces_a_stale_plain_file(tmp_path, small):
    write_sample(small, tmp_path, compress=False)
    paths = write_sample(small, tmp_path, compress=True)
    assert paths["interactions"].name == "interactions.csv.gz"
    assert not (tmp_path / "interactions.csv").exists()
    pd.testing.assert_frame_equal(load_sample(tmp_path).interactions, small.interactions)


def test_load_truth_names_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="planted-truth"):
        load_truth(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_truth(bad)
    bad.write_text('{"a": 1}')
    with pytest.raises(ValueError, match="personas"):
        load_truth(bad)


def test_committed_sample_data_is_what_the_default_config_generates():
    truth = load_truth(SAMPLE_DIR)
    config = SynthConfig.from_dict(truth["config"])
    assert config == SynthConfig()  # the sample is made with the defaults
    shop = generate(config)
    committed = load_sample(SAMPLE_DIR)
    assert committed.truth == shop.truth
    pd.testing.assert_frame_equal(committed.users, shop.users)
    pd.testing.assert_frame_equal(committed.items, shop.items)
    pd.testing.assert_frame_equal(committed.interactions, shop.interactions)
    pd.testing.assert_frame_equal(committed.past_campaigns, shop.past_campaigns)
    assert 150_000 <= len(committed.interactions) <= 400_000
    total = sum(p.stat().st_size for p in SAMPLE_DIR.iterdir() if p.is_file())
    assert total < 10 * 1024 * 1024
    assert (SAMPLE_DIR / "README.md").is_file()
