"""recsys.data: read the user's files safely and turn them into a clean, canonical dataset.

Takes paths, bytes and frames; never a ``Workspace`` (storing is :mod:`recsys.workspace`'s job).
Modules, in the order an import goes through them:

* :mod:`~recsys.data.files` -- one file before it is read: ``ReadLimits``, ``RawFile``, ``LoadedTable``,
  safe display names, fingerprints and the refusals every reader shares.
* :mod:`~recsys.data.csv_reader` -- CSV: encoding and delimiter detection, reading with Arrow.
* :mod:`~recsys.data.excel_reader` -- zip archives and Excel workbooks: zip-bomb guard, formulas.
* :mod:`~recsys.data.read` -- ``load_table`` / ``read_table``: format sniffing, Parquet, dispatch.
* :mod:`~recsys.data.mapping` -- ``ImportOptions`` and the column mapping (guess, overrides, ``load_source``).
* :mod:`~recsys.data.parse` -- id and date values: ids as clean text, dates as naive UTC.
* :mod:`~recsys.data.clean` -- validate and clean the interactions file and a users or items file.
* :mod:`~recsys.data.facts` -- customer / item facts found in extra columns of the interactions file.
* :mod:`~recsys.data.prepare` -- ``prepare_dataset`` / ``prepare_tables``: every step, every problem at once.
* :mod:`~recsys.data.dataset` -- the containers: ``PreparedDataset``, ``DatasetInfo``, ``Dataset``,
  and ``customer_ids`` (every customer of a dataset, in one order).
* :mod:`~recsys.data.validate` -- ``Problem``, ``DataError``, ``CleaningReport`` and the checks.
* :mod:`~recsys.data.schema` -- column kinds of the customer and offer tables (``TableSchema``).
* :mod:`~recsys.data.privacy` -- direct identifiers and keyed pseudonyms.
* :mod:`~recsys.data.synth` -- the synthetic sample shop: ``generate``, its config, files and true probabilities;
  its steps in :mod:`~recsys.data.synth_vocab` (column names, labels, personas),
  :mod:`~recsys.data.synth_customers`, :mod:`~recsys.data.synth_offers`, :mod:`~recsys.data.synth_events`
  and :mod:`~recsys.data.synth_truth` (the planted truth); :mod:`~recsys.data.synth_zh` its Chinese version.
"""

from recsys.data.dataset import Dataset, DatasetInfo, PreparedDataset, SourceInfo, customer_ids
from recsys.data.files import LoadedTable, ReadLimits, display_name
from recsys.data.mapping import ImportOptions, guess_mapping, resolve_mapping
from recsys.data.prepare import prepare_dataset, prepare_tables
from recsys.data.read import load_table, read_table
from recsys.data.validate import CleaningReport, DataError, Problem

__all__ = [
    "CleaningReport", "DataError", "Dataset", "DatasetInfo", "ImportOptions", "LoadedTable", "PreparedDataset",
    "Problem", "ReadLimits", "SourceInfo", "customer_ids", "display_name", "guess_mapping", "load_table",
    "prepare_dataset", "prepare_tables", "read_table", "resolve_mapping",
]
