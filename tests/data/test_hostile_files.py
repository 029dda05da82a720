"""Every bad and hostile file of tests/badfiles.py against every entry point that reads files.

Entry points: ``prepare_dataset`` (the API), the Data page (AppTest: upload, and "Check and import"
when the file gets past the preview), ``promolens import`` (in-process, plus a few in a fresh
process), and the outcomes upload of a campaign export (the functions the Measure page calls, and
``promolens measure --export``). Each case must give its message, and the workspace must be
byte-for-byte what it was: every file under it, the DuckDB catalogue included, is hashed before and
after. The model-pickle cases check that a run whose model file is a pickle is refused on load
without ever unpickling it.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from recsys import cli
from recsys.cli.common import EXIT_BAD_INPUT
from recsys.campaign import export, measure
from recsys.data.files import SNIFF_BYTES, ReadLimits, display_name
from recsys.data.read import load_table, read_table
from recsys.workspace import exports, runs
from recsys.core import columns as C
from recsys.workspace.ingest import import_files
from recsys.learn.modelfile import MODEL_FORMAT, MODEL_FORMAT_VERSION, ModelFileError
from recsys.workspace.store import Workspace
from recsys.data.validate import DataError
from tests import badfiles
from tests.badfiles import ALL_BAD_CASES, BadCase

ROOT = Path(__file__).resolve().parents[2]
CASE_NAMES = [make.__name__.removeprefix("make_") for make in ALL_BAD_CASES]
BUILDERS = dict(zip(CASE_NAMES, ALL_BAD_CASES, strict=True))


def _case_names_where(applies) -> list[str]:  # noqa: ANN001 - Callable[[BadCase], bool]
    """Names of the cases for which ``applies(case)`` (built once in a scratch folder to find out)."""
    names = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, make in BUILDERS.items():
            folder = Path(scratch) / name
            folder.mkdir()
            if applies(make(folder)):
                names.append(name)
    return names


#: Cases run against the outcomes upload; the others are problems of imported interactions only
#: (leading zeros, future dates, ...), which an outcomes file does not have.
OUTCOMES_CASE_NAMES = _case_names_where(lambda case: case.outcomes is not None)
#: Cases the Data page can be given (not e.g. a forced wrong delimiter: the page always detects it).
PAGE_CASE_NAMES = _case_names_where(lambda case: not case.page_skip())
EXPORT_CUSTOMERS = 40
#: Raw characters that must never reach a message: they would hide in it, reorder it or drive a terminal.
RAW_HOSTILE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def workspace_digest(path: Path) -> dict[str, str]:
    """sha256 of every file under ``path`` by relative path: the workspace, byte for byte."""
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*")) if p.is_file()
    }


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BadCase]:
    """Every case built once, each in its own directory."""
    root = tmp_path_factory.mktemp("corpus")
    cases = {}
    for name, make in BUILDERS.items():
        folder = root / name
        folder.mkdir()
        cases[name] = make(folder)
    return cases


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A workspace that already holds a dataset and a campaign export (e1) with a control group."""
    root = tmp_path_factory.mktemp("ws")
    good = root / "existing.csv"
    users = [f"u{k}" for k in range(1, EXPORT_CUSTOMERS + 1)]
    pd.DataFrame({"user_id": users, "item_id": [f"i{k % 5}" for k in range(EXPORT_CUSTOMERS)],
                  "event": ["click"] * EXPORT_CUSTOMERS}).to_csv(good, index=False)
    workspace = Workspace(root / "workspace")
    import_files(workspace, good, name="existing")
    audience = pd.DataFrame({
        C.USER_ID: users, C.ITEM_ID: ["i1"] * EXPORT_CUSTOMERS,
        C.SCORE: np.linspace(1.0, 0.1, EXPORT_CUSTOMERS), C.RANK: [1] * EXPORT_CUSTOMERS,
        C.GROUP: [C.CONTROL if k % 4 == 0 else C.TREATMENT for k in range(EXPORT_CUSTOMERS)],
    })
    result = exports.save_export(workspace, audience)
    assert result.export_id == "e1"
    return workspace


@pytest.fixture()
def limits_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[callable]:
    """Set a case's limits as the environment variables the app and the CLI read."""
    for variable in ("PROMOLENS_MAX_FILE_MB", "PROMOLENS_MAX_MEMORY_MB", "PROMOLENS_MAX_ROWS", "PROMOLENS_MAX_COLUMNS"):
        monkeypatch.delenv(variable, raising=False)

    def apply(case: BadCase) -> None:
        for variable, value in case.env().items():
            monkeypatch.setenv(variable, value)

    yield apply


def _assert_clean(text: str) -> None:
    assert not RAW_HOSTILE.search(text), f"raw control or direction characters in: {text[:300]!r}"
    assert "../" not in text and "..\\" not in text


# ------------------------------------------------------------------------------------ the API
@pytest.mark.parametrize("name", CASE_NAMES)
def test_prepare_dataset_names_file_column_rows_and_fix(name: str, corpus: dict[str, BadCase]) -> None:
    case = corpus[name]
    with pytest.raises(DataError, match=case.expect) as caught:
        case.run()
    text = str(caught.value)
    assert case.name in text and "Fix:" in text
    for more in case.also:
        assert re.search(more, text), more
    _assert_clean(text)
    if case.column is not None:
        problem = next(p for p in caught.value.problems if p.column == case.column)
        assert problem.rows[: len(case.rows)] == case.rows


# ------------------------------------------------------------------------------------ the Data page
ROLES = ("interactions", "users", "items")


@pytest.fixture(scope="module")
def data_page(ws: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppTest, list, Path]]:
    """One Data page session for all cases (as a marketer trying file after file).

    Uploads are kept under a temporary folder; the errors the page shows are recorded as objects.
    """
    from pages import shared

    uploads = tmp_path_factory.mktemp("tmp")
    shown: list[DataError] = []
    original = shared.show_data_error

    def record(error: DataError) -> None:
        shown.append(error)
        original(error)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROMOLENS_WORKSPACE", str(ws.path))
        patch.chdir(ROOT)
        patch.setattr(tempfile, "tempdir", str(uploads))
        patch.setattr(shared, "show_data_error", record)
        at = AppTest.from_file(str(ROOT / "pages" / "data.py"), default_timeout=60)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        at.radio(key="import_source").set_value("Upload my files")
        yield at, shown, uploads


@pytest.mark.parametrize("name", PAGE_CASE_NAMES)
def test_data_page_shows_the_problem_and_changes_nothing(
    name: str, corpus: dict[str, BadCase], ws: Workspace, data_page: tuple[AppTest, list, Path], limits_env,
) -> None:
    case = corpus[name]
    limits_env(case)
    at, shown, uploads = data_page
    shown.clear()
    before = workspace_digest(ws.path)
    files = case.inputs()
    for role in ROLES:  # this case's files; the uploaders it does not use are emptied
        path = files.get(role)
        upload_name = case.shown_upload_name if role == case.kind else (path.name if path else None)
        at.file_uploader(key=f"upload_{role}").set_value(
            None if path is None else (upload_name, path.read_bytes(), "application/octet-stream"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if not shown:  # the files got past the preview: the problem is found on "Check and import"
        next(b for b in at.button if b.label == "Check and import").click()
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    assert len(shown) == 1
    assert re.search(case.expect_with_default_options(), str(shown[0]))
    assert all(re.search(more, str(shown[0])) for more in case.also)
    assert any("not imported" in e.value and "Nothing in your workspace changed" in e.value for e in at.error)
    page_text = re.sub(r"\\(.)", r"\1", " ".join(m.value for m in at.markdown))  # as shown: escapes undone
    assert not [m.value for m in at.markdown if re.search(r"(?<!\\)\]\(|(?<!\\)https?(?<!\\):", m.value)]  # no live links
    assert case.name in page_text
    for problem in shown[0].problems:
        assert problem.message in page_text
        _assert_clean(problem.file + (problem.column or "") + problem.message)
    assert workspace_digest(ws.path) == before
    # uploads are kept under their content hash only (the browser's name is never a path), in one
    # private folder of this process (0700), and deleted once an import was tried
    folders = list(uploads.iterdir())
    assert len(folders) == 1 and re.fullmatch(r"promolens-uploads-\w+", folders[0].name)
    assert folders[0].stat().st_mode & 0o777 == 0o700
    kept = sorted(p.name for p in folders[0].iterdir())
    assert all(re.fullmatch(r"[0-9a-f]{32}\.upload", k) for k in kept)


# ------------------------------------------------------------------------------------ promolens import
def _cli_paths(case: BadCase, tmp_path: Path) -> list[str]:
    args = []
    for role, path in case.inputs().items():
        if role == case.kind and case.upload_name is not None and "/" in case.upload_name:
            (tmp_path / "a" / "b").mkdir(parents=True)  # the user typed a path with ../ in it
            os.link(path, tmp_path / path.name)
            path = tmp_path / "a" / "b" / case.upload_name
        args += [f"--{role}", str(path)]
    return args


@pytest.mark.parametrize("name", CASE_NAMES)
def test_cli_import_exits_2_with_the_message_and_changes_nothing(
    name: str, corpus: dict[str, BadCase], ws: Workspace, limits_env, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    case = corpus[name]
    limits_env(case)
    before = workspace_digest(ws.path)
    code = cli.main(["import", "--workspace", str(ws.path), *_cli_paths(case, tmp_path), *case.cli_options()])
    out, err = capsys.readouterr()
    assert code == EXIT_BAD_INPUT
    assert re.search(case.expect_with_default_options(), err), err[:2000]
    assert all(re.search(more, err) for more in case.also)
    assert case.name in err and "Imported" not in out
    _assert_clean(err)
    assert workspace_digest(ws.path) == before


@pytest.mark.parametrize("name", ["xlsx_zip_bomb", "control_characters_in_ids", "path_like_upload_name",
                                  "parquet_memory_bomb"])
def test_cli_import_in_a_fresh_process(name: str, corpus: dict[str, BadCase], ws: Workspace, tmp_path: Path) -> None:
    case = corpus[name]
    env = {**os.environ, **case.env(), "PYTHONPATH": str(ROOT)}
    before = workspace_digest(ws.path)
    done = subprocess.run(
        [sys.executable, "-m", "recsys.cli", "import", "--workspace", str(ws.path), *_cli_paths(case, tmp_path)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert done.returncode == EXIT_BAD_INPUT, done.stderr
    assert re.search(case.expect_with_default_options(), done.stderr)
    assert "Traceback" not in done.stderr
    _assert_clean(done.stderr)
    assert workspace_digest(ws.path) == before


# ------------------------------------------------------------------------------------ outcomes upload
@pytest.mark.parametrize("name", OUTCOMES_CASE_NAMES)
def test_outcomes_upload_on_the_measure_page_path(
    name: str, corpus: dict[str, BadCase], ws: Workspace, limits_env,
) -> None:
    """What pages/measure.py does with an upload: read_table on the bytes, then measure_export."""
    case = corpus[name]
    limits_env(case)
    before = workspace_digest(ws.path)
    shown = display_name(case.shown_upload_name)
    with pytest.raises(DataError) as caught:
        frame = read_table(case.path.read_bytes(), name=shown, limits=ReadLimits.from_env())
        measure.measure_export(exports.load_targets(ws, "e1"), frame, [case.outcome_column], source=shown,
                               export_id="e1")
    assert re.search(case.outcomes, str(caught.value)), str(caught.value)
    assert case.name in str(caught.value)
    _assert_clean(str(caught.value))
    assert workspace_digest(ws.path) == before


@pytest.mark.parametrize("name", OUTCOMES_CASE_NAMES)
def test_cli_measure_with_bad_outcomes_exits_2_and_changes_nothing(
    name: str, corpus: dict[str, BadCase], ws: Workspace, limits_env, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    case = corpus[name]
    limits_env(case)
    before = workspace_digest(ws.path)
    code = cli.main(["measure", "--workspace", str(ws.path), "--export", "e1", "--outcomes", str(case.path),
                     "--outcome", case.outcome_column])
    out, err = capsys.readouterr()
    assert code == EXIT_BAD_INPUT
    assert re.search(case.outcomes, err), err[:2000]
    assert "Recorded as measurement" not in out
    _assert_clean(err)
    assert workspace_digest(ws.path) == before
    assert ws.measurements() == []


def test_good_outcomes_are_measured_and_recorded(ws: Workspace, tmp_path: Path) -> None:
    """The outcomes checks refuse only bad files: the same flow records a good one (in a copy)."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(ws.path, copy)
    outcomes = tmp_path / "outcomes.csv"
    pd.DataFrame({"user_id": [f"u{k}" for k in range(1, EXPORT_CUSTOMERS + 1)],
                  "quantity": [k % 3 for k in range(EXPORT_CUSTOMERS)]}).to_csv(outcomes, index=False)
    code = cli.main(["measure", "--workspace", str(copy), "--export", "e1", "--outcomes", str(outcomes),
                     "--outcome", "quantity"])
    assert code == 0
    assert len(Workspace(copy).measurements()) == 1


# ------------------------------------------------------------------------------------ what the guards promise
def test_the_zip_bomb_is_refused_before_anything_is_unpacked(corpus: dict[str, BadCase]) -> None:
    case = corpus["xlsx_zip_bomb"]
    assert case.path.stat().st_size < 4 * 1024**2 < badfiles.BOMB_UNPACKED_BYTES
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(DataError, match=case.expect):
        read_table(case.path)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 16 * 1024**2  # unpacking the sheet would take 256 MB
    assert elapsed < 5.0


def test_ten_thousand_columns_are_refused_from_the_header(corpus: dict[str, BadCase]) -> None:
    case = corpus["ten_thousand_columns"]
    started = time.perf_counter()
    with pytest.raises(DataError, match=case.expect):
        read_table(case.path)
    assert time.perf_counter() - started < 2.0


def test_a_header_longer_than_the_sniffed_bytes_is_counted_whole(tmp_path: Path) -> None:
    header = ",".join(["user_id", "item_id"] + [f"a_rather_long_column_name_for_a_wide_table_{k:05d}" for k in range(1_498)])
    assert len(header) > SNIFF_BYTES
    path = tmp_path / "wide.csv"
    path.write_text(header + "\n" + ",".join(["u1", "i1"] + ["0"] * 1_498) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"wide\.csv: the file has 1,500 columns, over the limit of 1,000"):
        read_table(path)
    assert read_table(path, limits=ReadLimits(max_columns=2_000)).shape == (1, 1_500)


def test_formulas_with_saved_results_are_read_as_values_never_run(tmp_path: Path) -> None:
    """The other half of the formula rule: saved results are read (with a warning), formulas never
    run, and formula-looking text stays data that an export neutralises."""
    cell, row = badfiles.xlsx_cell, badfiles.xlsx_row
    rows = [row(1, [cell("A1", "user_id"), cell("B1", "item_id"), cell("C1", "quantity"), cell("D1", "note")])]
    rows += [row(r, [cell(f"A{r}", f"u{r}"), cell(f"B{r}", "i1"), cell(f"C{r}", formula=f"1+{r}", value=r + 1),
                     cell(f"D{r}", '=HYPERLINK("http://evil.example","click")')]) for r in range(2, 5)]
    path = badfiles.write_xlsx(tmp_path / "saved.xlsx", rows)
    loaded = load_table(path)
    assert loaded.frame["quantity"].tolist() == [3, 4, 5]
    assert loaded.frame["note"].iloc[0] == '=HYPERLINK("http://evil.example","click")'  # text, as typed
    assert any("3 formula cells" in w.message and "neither run nor kept" in w.message for w in loaded.warnings)
    table = pd.DataFrame({C.USER_ID: ['=HYPERLINK("http://evil.example","click")'], C.ITEM_ID: ["i1"],
                          C.SCORE: [0.5], C.RANK: [1], C.GROUP: [C.TREATMENT]})
    written = export.write_export(table, tmp_path / "out", extra_columns=pd.DataFrame(
        {C.USER_ID: table[C.USER_ID], "note": loaded.frame["note"].iloc[:1].to_numpy()}))
    csv_text = written.csv_path.read_text(encoding="utf-8")
    assert '"=HYPERLINK' not in csv_text and csv_text.count("\"'=HYPERLINK") == 2


def test_ids_with_invisible_characters_are_refused_not_cleaned(corpus: dict[str, BadCase]) -> None:
    """Refusing keeps "u1" and "u1" + U+200F from being merged or split behind the user's back."""
    case = corpus["control_characters_in_ids"]
    with pytest.raises(DataError) as caught:
        case.run()
    by_column = {p.column: p for p in caught.value.problems}
    assert set(by_column) == {"user_id", "item_id"}
    assert by_column["user_id"].rows == tuple(sorted(badfiles._HOSTILE_USER_IDS))
    assert by_column["item_id"].rows == tuple(sorted(badfiles._HOSTILE_ITEM_IDS))


def test_display_name_never_keeps_a_path_or_a_hidden_character() -> None:
    assert display_name("../../x.csv") == "x.csv"
    assert display_name("..\\..\\..\\etc\\passwd") == "passwd"
    assert display_name("/") == "upload" and display_name("..") == "upload"
    assert display_name("a\u202egpj.csv") == "a[U+202E]gpj.csv"
    assert display_name(display_name("x\x1b[2J.csv")) == "x[U+001B][2J.csv"  # idempotent
    assert len(display_name("a" * 500 + ".csv")) == 120


def test_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = ReadLimits.from_env({"PROMOLENS_MAX_FILE_MB": "0.5", "PROMOLENS_MAX_COLUMNS": "20",
                                     "PROMOLENS_MAX_ROWS": ""})
    assert (limits.max_file_bytes, limits.max_columns, limits.max_rows) == (512 * 1024, 20, ReadLimits().max_rows)
    with pytest.raises(ValueError, match="PROMOLENS_MAX_ROWS='many' is not a number"):
        ReadLimits.from_env({"PROMOLENS_MAX_ROWS": "many"})


# ------------------------------------------------------------------------------------ a model file that is a pickle
@pytest.fixture()
def pickled_run(tmp_path: Path) -> tuple[Workspace, str, Path]:
    """A workspace with a run whose model file is then replaced by a pickle that would create a file."""
    ws = Workspace(tmp_path / "ws")
    good = tmp_path / "good.csv"
    pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["i1", "i2"]}).to_csv(good, index=False)
    info, _ = import_files(ws, good)

    def write_model(folder: Path) -> None:
        (folder / runs.MODEL_FILE).write_bytes(b"placeholder")
        (folder / runs.MODEL_FILE).with_suffix(".json").write_text(
            f'{{"format": "{MODEL_FORMAT}", "format_version": {MODEL_FORMAT_VERSION}, "arrays": ["user_ids"]}}',
            encoding="utf-8")

    run_id = ws.save_run(info.id, {"config": {}, "metrics": {}}, write_model)
    return ws, run_id, tmp_path / badfiles.PICKLE_SENTINEL


@pytest.mark.parametrize("writer, message", [
    (badfiles.write_pickled_model, badfiles.PICKLED_MODEL_MESSAGE),
    (badfiles.write_npz_with_pickled_array, badfiles.PICKLED_ARRAY_MESSAGE),
], ids=["pickle", "npz_with_object_array"])
def test_a_pickled_model_file_is_refused_and_never_unpickled(
    pickled_run: tuple[Workspace, str, Path], writer, message: re.Pattern, capsys: pytest.CaptureFixture[str],
) -> None:
    ws, run_id, sentinel = pickled_run
    writer(ws.run_dir(run_id) / runs.MODEL_FILE, sentinel)
    before = workspace_digest(ws.path)
    with pytest.raises(ModelFileError, match=message):
        runs.load_model(ws, run_id)
    code = cli.main(["recommend", "--workspace", str(ws.path), "--run", run_id, "--user", "u1"])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    assert err.startswith("Cannot recommend: ") and message.search(err)
    assert not sentinel.exists()
    assert workspace_digest(ws.path) == before


def test_the_wrapped_gzip_stops_while_streaming_and_peaks_under_the_memory_limit(corpus: dict[str, BadCase]) -> None:
    """4 GiB behind a size field that says 8 bytes: the read stops at the limit; peak memory (a fresh
    process's maximum resident size, after a warm-up read) grows by less than the configured limit."""
    case = corpus["wrapped_gzip"]
    code = textwrap.dedent(f"""
        import gzip, io, resource, sys
        from pathlib import Path
        from recsys.data.files import ReadLimits
        from recsys.data.read import load_table
        from recsys.data.validate import DataError
        load_table(gzip.compress(b"user_id,item_id,quantity\\n" + b"u1,i1,1\\n" * 1000), "warm.csv.gz")
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        try:
            load_table(Path({str(case.path)!r}), limits=ReadLimits(max_memory_bytes={case.limits.max_memory_bytes}))
        except DataError as exc:
            print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base)
            print(exc)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    grown, message = done.stdout.split("\n", 1)
    assert re.search(case.expect, message)
    assert badfiles.WRAPPED_GZIP_UNPACKED_BYTES > 4 * 1024**3 and case.path.stat().st_size < 10 * 1024**2
    assert 0 <= int(grown) < case.limits.max_memory_bytes, f"peak grew by {int(grown) / 1024**2:.1f} MB"


@pytest.mark.parametrize("codec", ["bz2", "zstd"])
def test_every_compressed_format_is_counted_while_streaming(codec: str) -> None:
    import bz2

    import pyarrow as pa

    text = b"user_id,item_id,quantity\n" + b"u1,i1,1\n" * 1024**2  # 8 MB of text
    packed = bz2.compress(text) if codec == "bz2" else pa.compress(text, "zstd", asbytes=True)
    if codec == "zstd":  # Arrow's one-shot zstd omits the content size: a frame a streaming reader accepts
        assert packed[:4] == b"\x28\xb5\x2f\xfd"
    with pytest.raises(DataError, match=rf"{codec}-compressed file .* unpacks to more than 1\.0 MB of text"):
        load_table(packed, f"orders.csv.{codec}", ReadLimits(max_memory_bytes=4 * 1024**2))
    assert len(load_table(packed, f"orders.csv.{codec}", ReadLimits()).frame) == 1024**2


# ------------------------------------------------------------------------------------ a model file of another run
def test_a_model_file_of_another_dataset_is_refused(small_workspace, sample_workspace_template, capsys) -> None:
    ws = Workspace(small_workspace.path)
    run_dir = ws.run_dir(small_workspace.run_id)
    badfiles.write_foreign_model(run_dir, sample_workspace_template.path / "runs" / sample_workspace_template.run_id)
    before = workspace_digest(ws.path)
    with pytest.raises(ModelFileError, match=badfiles.FOREIGN_MODEL_MESSAGE):
        runs.load_model(ws, small_workspace.run_id)
    user = ws.load_dataset(small_workspace.dataset_id).interactions[C.USER_ID].iloc[0]
    code = cli.main(["recommend", "--workspace", str(ws.path), "--run", small_workspace.run_id, "--user", str(user)])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and badfiles.FOREIGN_MODEL_MESSAGE.search(err), err
    assert workspace_digest(ws.path) == before


def test_a_model_json_without_its_keys_is_refused_without_a_traceback(small_workspace) -> None:
    import json

    ws = Workspace(small_workspace.path)
    meta_path = ws.run_dir(small_workspace.run_id) / "model.json"
    meta = json.loads(meta_path.read_text())
    del meta["config"], meta["user_builder"]
    meta_path.write_text(json.dumps(meta))
    before = workspace_digest(ws.path)
    with pytest.raises(ModelFileError, match=badfiles.MODEL_JSON_MISSING_KEYS):
        runs.load_model(ws, small_workspace.run_id)
    assert workspace_digest(ws.path) == before


def test_ids_that_differ_only_by_unicode_normalisation_are_named_in_a_warning(tmp_path: Path) -> None:
    from recsys.data.prepare import prepare_dataset

    prepared = prepare_dataset(interactions=badfiles.write_confusable_ids(tmp_path))
    warnings = [str(w) for w in prepared.warnings]
    assert any(badfiles.CONFUSABLE_WARNING.search(w) for w in warnings), warnings
    assert prepared.interactions[C.USER_ID].nunique() == 7  # kept apart: merging is the user's decision
