"""The workspace, and the jobs the pages and the CLI call: the only package that takes a ``Workspace``.

- ``store``: the workspace itself: one DuckDB catalogue + Parquet tables + model and export files,
  with atomic writes and a clear message when another writer holds it.
- ``appends``: a dataset's versions, mixed into ``Workspace``: appends, and the tables as of any version.
- ``records``: the catalogue's schema, and its rows as Python (``DatasetInfo``, decoded dicts, ``merge_facts``).
- ``ingest``: import and append files (read, map, validate, clean, store atomically).
- ``overview``: at-a-glance summaries of a stored dataset, straight from its Parquet files.
- ``runs``: train, evaluate, keep, compare and load runs (``RunRecord``), their split and evaluation.
- ``update``: what arrived since a run was trained, how the model does on it, and an update.
- ``recommend``: the pieces of a customer's list that live in the workspace (saved re-ranking).
- ``audit``: the fairness audit of a run, its saved re-ranking and held-out trade-off.
- ``segments``: saved segments and the Segments page's jobs.
- ``campaign``: a campaign end to end: run + request -> probabilities -> audience -> reasons.
- ``exports``: saving and listing exports, recent recipients, measuring an export's outcomes.
"""

__all__ = ["store", "ingest", "overview", "runs", "update", "recommend", "audit", "segments", "campaign", "exports"]
