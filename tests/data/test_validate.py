"""Bad input: every problem reported at once, each naming file, column, rows and the fix."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.badfiles import ALL_BAD_CASES, BadCase, make_duplicate_user_ids, make_pdf_renamed_csv
from recsys.core import columns as C
from recsys.data.mapping import ImportOptions
from recsys.data.prepare import prepare_dataset
from recsys.data.validate import (
    CleaningReport,
    CleaningStep,
    DataError,
    Problem,
    check_mapping,
    example_rows,
    leading_zero_clashes,
    raise_if_errors,
    to_number,
)


@pytest.mark.parametrize("make", ALL_BAD_CASES, ids=lambda make: make.__name__.removeprefix("make_"))
def test_bad_input_is_refused_with_a_clear_message(tmp_path: Path, make) -> None:  # noqa: ANN001
    case: BadCase = make(tmp_path)
    with pytest.raises(DataError, match=case.expect) as caught:
        case.run()
    error = caught.value
    assert error.problems, "a DataError always carries its problems"
    matching = [p for p in error.problems if re.search(case.expect, str(p))]
    assert matching, f"no single problem matches {case.expect!r}: {error}"
    problem = matching[0]
    assert problem.severity == "error"
    assert problem.file == case.name, "the problem names the file as the user knows it"
    assert problem.fix, "every problem says what to do"
    if case.column is not None:
        assert problem.column == case.column
        assert f"column '{case.column}'" in str(problem)
    if case.rows:
        assert problem.rows[: len(case.rows)] == case.rows
        assert "row" in str(problem)
    assert "Traceback" not in str(error)


def test_bad_case_builders_are_all_listed_once() -> None:
    from tests import badfiles

    builders = {name for name in dir(badfiles) if name.startswith("make_")}
    assert builders == {make.__name__ for make in ALL_BAD_CASES}
    assert len(ALL_BAD_CASES) == len(set(ALL_BAD_CASES))


def test_several_problems_in_one_file_are_all_reported(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "CustomerID,StockCode,revenue,rating,Date\n"
        "007,A,1.5,1,2024-01-01\n"   # row 2
        "7,B,abc,2,2024-01-02\n"      # row 3: text in revenue
        "8,C,2,-1,2024-01-03\n"       # row 4: negative weight
        "9,D,3,1,not a date\n"        # row 5: unreadable date (25% > 1%)
    )
    with pytest.raises(DataError) as caught:
        prepare_dataset(path)
    problems = caught.value.problems
    by_column = {p.column: p for p in problems}
    assert set(by_column) == {"CustomerID", "revenue", "rating", "Date"}
    assert by_column["CustomerID"].rows == (2, 3)
    assert by_column["revenue"].rows == (3,)
    assert by_column["rating"].rows == (4,)
    assert by_column["Date"].rows == (5,)
    text = str(caught.value)
    assert text.startswith("The data could not be imported: 4 problems found")
    assert all(p.file == "orders.csv" for p in problems)
    assert len(text.splitlines()) == 5


def test_problems_of_all_files_are_reported_together(tmp_path: Path) -> None:
    inter = tmp_path / "inter.csv"
    inter.write_text("user_id,item_id,weight\nu1,i1,-2\nu2,i2,1\n")
    users = tmp_path / "users.csv"
    users.write_text("user_id,tier\nu1,gold\nu1,silver\n")
    items = tmp_path / "items.csv"
    items.write_bytes(b"")
    with pytest.raises(DataError) as caught:
        prepare_dataset(inter, users, items)
    files = [p.file for p in caught.value.problems]
    assert sorted(files) == ["inter.csv", "items.csv", "users.csv"]


def test_names_replace_temporary_upload_paths(tmp_path: Path) -> None:
    path = tmp_path / "3f9a0c-upload.csv"
    path.write_text("user_id,item_id,weight\nu1,i1,-2\n")
    with pytest.raises(DataError, match=r"(?m)^  1\. My orders\.csv, column 'weight'") as caught:
        prepare_dataset(path, names={"interactions": "My orders.csv"})
    assert caught.value.problems[0].file == "My orders.csv"


def test_missing_id_column_suggests_the_closest_column(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("Custmer,product\nann,p1\n")
    with pytest.raises(DataError, match=r"If 'Custmer' holds the customer id, choose it for user_id"):
        prepare_dataset(path)


def test_mapping_to_an_absent_column_is_reported_with_the_columns_that_exist(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("cust,item\nann,p1\n")
    with pytest.raises(DataError, match=r"uses column 'Kunde' for customer id \(user_id\), but the file has no "
                                        r"such column; its columns are 'cust', 'item'"):
        prepare_dataset(path, mapping={"interactions": {C.USER_ID: "Kunde"}})


def test_a_few_bad_dates_are_dropped_and_reported_not_blocking(tmp_path: Path) -> None:
    rows = [f"u{i},i{i % 7},2024-01-{1 + i % 28:02d}" for i in range(199)] + ["u9,i1,someday"]
    path = tmp_path / "orders.csv"
    path.write_text("user_id,item_id,date\n" + "\n".join(rows) + "\n")
    data = prepare_dataset(path, options=ImportOptions(max_bad_share=0.01))
    assert data.report.count("missing or unreadable dates") == 1
    assert len(data.interactions) == 199
    step = next(s for s in data.report.steps if s.name == "missing or unreadable dates")
    assert step.example_rows == (201,)
    with pytest.raises(DataError, match=r"0\.5% of the file.*import options, now 0\.0%"):
        prepare_dataset(path, options=ImportOptions(max_bad_share=0.0))


def test_unknown_fact_column_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("user_id,item_id,Country\nu1,i1,UK\n")
    with pytest.raises(DataError, match=r"column 'Region' was chosen as a fact about each customer.*Country"):
        prepare_dataset(path, options=ImportOptions(user_columns=("Region",)))


def test_bad_options_are_problems_too(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("user_id,item_id\nu1,i1\n")
    with pytest.raises(DataError, match=r"max_bad_share is 2") as caught:
        prepare_dataset(path, options=ImportOptions(max_bad_share=2, event_weights={"click": -1}))
    assert len(caught.value.problems) == 2


def test_problem_text_and_round_trip() -> None:
    problem = Problem("orders.csv", "CustomerID", (5, 9, 13), 12, "12 rows have no customer id", "Fill them in.")
    assert str(problem) == ("orders.csv, column 'CustomerID': 12 rows have no customer id (rows 5, 9, 13, ...). "
                            "Fix: Fill them in.")
    assert Problem.from_dict(problem.to_dict()) == problem
    whole_file = Problem("a.csv", None, (), 0, "the file is empty.", "Pick another.")
    assert str(whole_file) == "a.csv: the file is empty. Fix: Pick another."
    one_row = Problem("a.csv", "x", (4,), 1, "1 row is odd", "Fix it.")
    assert "(row 4)" in str(one_row)


def test_data_error_lists_every_problem_and_survives_pickling() -> None:
    problems = [Problem("a.csv", "x", (2,), 1, "bad x", "fix x"), Problem("b.csv", None, (), 0, "bad b", "fix b")]
    warning = Problem("a.csv", "y", (), 0, "odd y", "nothing", "warning")
    error = DataError(problems, [warning])
    text = str(error)
    assert "2 problems found" in text and "  1. a.csv, column 'x': bad x (row 2)" in text
    assert "  2. b.csv: bad b" in text and "Also note:" in text and "odd y" in text
    assert isinstance(error, ValueError)
    clone = pickle.loads(pickle.dumps(error))
    assert clone.problems == problems and clone.warnings == [warning]
    with pytest.raises(DataError):
        raise_if_errors(problems + [warning])
    assert raise_if_errors([warning]) == [warning]


def test_cleaning_report_round_trips_and_frames() -> None:
    report = CleaningReport(rows_in={"interactions": 10}, rows_out={"interactions": 7})
    report.add("interactions", "cancellations", 2, "C orders", (3, 4))
    report.steps.append(CleaningStep("interactions", "zero unit price", 1, "kept", (), "kept"))
    again = CleaningReport.from_dict(report.to_dict())
    assert again == report
    frame = report.to_frame()
    assert list(frame.columns) == ["table", "name", "count", "action", "description", "example_rows"]
    assert frame["count"].tolist() == [2, 1] and frame["count"].dtype == np.int64
    assert frame["example_rows"].tolist() == ["3, 4", ""]
    assert report.count("cancellations") == 2 and report.count("nothing") == 0


def test_example_rows_use_spreadsheet_numbering() -> None:
    mask = np.array([False, True, False, True] + [True] * 10)
    assert example_rows(mask) == (3, 5, 6, 7, 8)


def test_to_number_understands_currency_and_decimal_commas() -> None:
    values = pd.Series(["1,234.50", "£12", "12,5", " ", None, "7", "1.234,5", "x1"], dtype="str")
    numbers, bad = to_number(values)
    assert numbers.iloc[:3].tolist() == [1234.5, 12.0, 12.5]
    assert np.isnan(numbers.iloc[3]) and np.isnan(numbers.iloc[4])
    assert numbers.iloc[5] == 7.0 and numbers.iloc[6] == 1234.5
    assert bad.tolist() == [False] * 7 + [True]


def test_leading_zero_clashes_finds_only_real_clashes() -> None:
    clashes = leading_zero_clashes(pd.Series(["007", "7", "070", "70", "A07", "A7", "0", "000", "5"]))
    assert set(clashes["id"]) == {"007", "7", "070", "70", "0", "000"}


def test_check_mapping_rejects_one_column_in_two_roles() -> None:
    problems = check_mapping({C.USER_ID: "id", C.ITEM_ID: "id"}, ["id", "x"], C.Table.INTERACTIONS, "f.csv")
    assert any("mapped to several columns at once" in p.message for p in problems)


def test_users_file_problem_is_blocking_even_when_interactions_are_fine(tmp_path: Path) -> None:
    case = make_duplicate_user_ids(tmp_path)
    with pytest.raises(DataError) as caught:
        case.run()
    assert [p.file for p in caught.value.problems] == [case.name]


def test_known_junk_formats_are_named(tmp_path: Path) -> None:
    case = make_pdf_renamed_csv(tmp_path)
    with pytest.raises(DataError, match="PDF document"):
        case.run()
