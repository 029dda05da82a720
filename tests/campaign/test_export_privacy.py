"""No direct identifier reaches an export: ids, free text, reasons.

The small shop with 30% of its customers checking out as guests (their e-mail address is their
customer id) and customer columns that hold names, e-mails and phone numbers inside free text. An
import without pseudonymisation is refused even at 30%; with it, the stored tables keep no e-mail id
(pseudonymisation drops what it replaces), the free-text columns never become features, and the
exported CSV and manifest contain none of the e-mails, names or phone numbers.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from recsys import cli
from recsys.cli.common import EXIT_BAD_INPUT
from recsys.core import columns as C
from recsys.data import privacy
from recsys.workspace.store import Workspace

PHONES = ["07911 123456", "+44 7911 654321", "447911222333", "0612345678"]


@pytest.fixture(scope="module")
def leaky_files(small_shop, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], set[str]]:
    out = tmp_path_factory.mktemp("leaky")
    users = small_shop.users.copy()
    inter = small_shop.interactions.copy()
    guests = users[C.USER_ID].iloc[::10].tolist() + users[C.USER_ID].iloc[1::10].tolist() + users[C.USER_ID].iloc[2::10].tolist()
    as_email = {u: f"guest.{u.lower()}@mail.example.org" for u in guests}  # 30% of the customers
    names = {u: f"Ann{i:03d} Smithers{i:03d}" for i, u in enumerate(users[C.USER_ID])}
    phones = {u: PHONES[i % len(PHONES)] for i, u in enumerate(users[C.USER_ID])}
    users["info"] = [f"{names[u]} <{u.lower()}@example.com>" for u in users[C.USER_ID]]
    users["notes"] = [f"call {phones[u]} after 5pm" for u in users[C.USER_ID]]
    users["contact"] = [phones[u] for u in users[C.USER_ID]]
    users[C.USER_ID] = users[C.USER_ID].replace(as_email)
    inter[C.USER_ID] = inter[C.USER_ID].replace(as_email)
    paths = {"interactions": out / "interactions.csv", "users": out / "users.csv", "items": out / "items.csv"}
    inter.to_csv(paths["interactions"], index=False)
    users.to_csv(paths["users"], index=False)
    small_shop.items.to_csv(paths["items"], index=False)
    secrets = set(as_email.values()) | set(names.values()) | set(users["email"]) | set(PHONES)
    secrets |= {f"{u.lower()}@example.com" for u in small_shop.users[C.USER_ID]}
    return paths, secrets


def _import(ws: Path, files: dict[str, Path], *extra: str) -> int:
    return cli.main(["import", "--workspace", str(ws), "--interactions", str(files["interactions"]),
                     "--users", str(files["users"]), "--items", str(files["items"]), "--name", "leaky", *extra])


def test_thirty_percent_email_ids_are_refused_without_pseudonymisation(leaky_files, tmp_path: Path, capsys) -> None:
    files, _ = leaky_files
    ws = Workspace(tmp_path / "ws")
    before = ws.snapshot()
    assert _import(ws.path, files) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "are personal data (of 300 distinct ids, 90 look like e-mail addresses)" in err
    assert "guest." not in err  # the message counts them, it does not print them
    assert ws.snapshot() == before


def test_an_export_of_a_leaky_dataset_contains_no_email_name_or_phone(leaky_files, tmp_path: Path, capsys) -> None:
    files, secrets = leaky_files
    ws = Workspace(tmp_path / "ws")
    assert _import(ws.path, files, "--pseudonymise") == 0
    dataset = ws.datasets()[0]
    stored = pd.concat([pd.read_parquet(p).astype(str) for p in ws.dataset_dir(dataset.id).glob("*.parquet")])
    assert not stored.isin(secrets).any().any()  # no plain id or identifier column kept by the pseudonymised dataset
    kinds = dataset.user_schema.kinds()
    assert {c for c in ("info", "notes", "contact") if c in kinds and c in dataset.user_schema.feature_columns()} == set()
    assert cli.main(["train", "--workspace", str(ws.path), "--dataset", dataset.id, "--epochs", "2", "--components", "4",
                     "--no-refit"]) == 0
    run_id = ws.runs()[0]["id"]
    out = tmp_path / "targets.csv"
    items = ws.load_dataset(dataset.id).items[C.ITEM_ID].tolist()[:3]
    argv = ["export", "--workspace", str(ws.path), "--run", run_id, "--top", "100", "--all-offers", "--reasons", "5",
            "--out", str(out)]
    for item in items:
        argv += ["--item", item]
    assert cli.main(argv) == 0, capsys.readouterr().err
    texts = [out.read_text()] + [p.read_bytes().decode("utf-8", "replace") for p in ws.export_dir(ws.exports()[0]["id"]).rglob("*")
                                   if p.is_file()]
    blob = "\n".join(texts)
    assert len(pd.read_csv(out)) > 0
    leaked = sorted(s for s in secrets if s in blob)
    assert leaked == [], leaked[:5]
    assert re.search(privacy.EMAIL_IN_TEXT, blob) is None and "Smithers" not in blob


def test_masking_finds_identifiers_inside_free_text() -> None:
    text = pd.Series(["Ann Smith <p1@example.com>", "mailto:bo@x.org", "tel 0612345678", "IBAN DE89 3704 0044 0532 0130 00",
                      "spent 12.50 on 2026-01-05", "customer 17850"])
    masked = privacy.mask_identifiers(text).tolist()
    assert masked == ["Ann Smith <[e-mail]>", "[e-mail]", "tel [phone]", "IBAN [account]", "spent 12.50 on 2026-01-05",
                      "customer 17850"]
