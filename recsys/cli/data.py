"""``promolens sample``, ``import``, ``append`` and ``datasets``: the data going into the workspace."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recsys.cli.common import EXIT_BAD_INPUT, open_workspace, print_json, workspace_arg
from recsys.core import columns as C
from recsys.core import i18n
from recsys.core.i18n import N_, fill, ngettext
from recsys.core.i18n import gettext as _


# ---------------------------------------------------------------------------- sample
def sample_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help=_("directory to write the sample files into"))
    p.add_argument("--users", type=int, default=None, help=_("number of customers"))
    p.add_argument("--items", type=int, default=None, help=_("number of offers"))
    p.add_argument("--seed", type=int, default=None, help=_("random seed"))
    p.add_argument("--plant-bias", action="store_true", help=_("plant an age-band targeting bias (for fairness demos)"))
    p.add_argument("--locale", choices=["en", "zh"], default="en",
                   help=_("language of the shop's labels, offer titles and descriptions (zh: a Chinese shop)"))


def cmd_sample(args: argparse.Namespace) -> int:
    from recsys.data import synth

    overrides: dict[str, Any] = {}
    if args.users is not None:
        overrides["n_users"] = args.users
    if args.items is not None:
        overrides["n_items"] = args.items
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.plant_bias:
        overrides["plant_bias"] = True
    shop = synth.generate(**overrides)
    if args.locale == "zh":
        from recsys.data.synth_zh import to_chinese

        shop = to_chinese(shop)
    paths = synth.write_sample(shop, args.out)
    for label, path in paths.items():
        print(f"{label}: {path}")
    return 0



# ---------------------------------------------------------------------------- import
def import_args(p: argparse.ArgumentParser) -> None:
    workspace_arg(p)
    p.add_argument("--interactions", type=Path, required=True, help=_("interactions file (CSV, CSV.gz, Parquet, Excel)"))
    p.add_argument("--users", type=Path, default=None, help=_("customer facts file"))
    p.add_argument("--items", type=Path, default=None, help=_("offer / product facts file"))
    p.add_argument("--name", default=None, help=_("dataset name (default: the interactions file name)"))
    p.add_argument(
        "--map", action="append", default=[], metavar="CANONICAL=THEIRS",
        help=_("map a canonical column to yours, e.g. user_id=CustomerID or users.user_id=cust (repeatable)"),
    )
    p.add_argument("--user-columns", nargs="*", default=None, help=_("interaction-file columns that are customer facts"))
    p.add_argument("--item-columns", nargs="*", default=None, help=_("interaction-file columns that are offer facts"))
    p.add_argument(
        "--leading-zero-ids", choices=["error", "merge", "keep"], default="error",
        help=_("ids like 007 and 7 in one column: stop (default), treat as one id, or keep apart"),
    )
    p.add_argument("--pseudonymise", action="store_true", help=_("replace customer ids by keyed pseudonyms"))
    p.add_argument("--max-file-mb", type=float, default=None,
                   help=_("refuse files larger than this (default: $PROMOLENS_MAX_FILE_MB or 2048)"))
    p.add_argument("--delimiter", default=None, help=_("CSV delimiter, e.g. ';' or tab (default: detected)"))
    p.add_argument("--allow-duplicate", action="store_true",
                   help=_("keep a second copy when the same files were already imported the same way (default: refuse)"))
    p.add_argument("--json", action="store_true", help=_("print the result as JSON"))


def parse_mapping(pairs: Sequence[str]) -> dict[str, dict[str, str]]:
    """``["user_id=CustomerID", "users.user_id=cid"]`` -> ``{"interactions": {...}, "users": {...}}``."""
    mapping: dict[str, dict[str, str]] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(fill(_("--map {pair}: write CANONICAL=THEIRS, e.g. --map user_id=CustomerID"), pair=repr(pair)))
        canonical, theirs = (part.strip() for part in pair.split("=", 1))
        table, _dot, column = canonical.rpartition(".")
        table = table or C.Table.INTERACTIONS.value
        if table not in {t.value for t in C.Table}:
            raise ValueError(fill(_("--map {pair}: unknown table {table}; use interactions, users or items"),
                                  pair=repr(pair), table=repr(table)))
        allowed = C.MAPPABLE_COLUMNS[C.Table(table)]
        if column not in allowed:
            raise ValueError(fill(_("--map {pair}: {column} is not a column of {table}; choose one of {allowed}"),
                                  pair=repr(pair), column=repr(column), table=table, allowed=", ".join(allowed)))
        mapping.setdefault(table, {})[column] = theirs
    return mapping


def cmd_import(args: argparse.Namespace) -> int:
    from recsys.data.files import ReadLimits
    from recsys.data.mapping import ImportOptions
    from recsys.workspace.ingest import DuplicateImportError, import_files

    try:
        mapping = parse_mapping(args.map)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        limits = ReadLimits.from_env()  # a deployment's limits (PROMOLENS_MAX_FILE_MB, ...)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.max_file_mb is not None:
        limits = ReadLimits(**{**vars(limits), "max_file_bytes": int(args.max_file_mb * 1024**2)})
    delimiter = "\t" if args.delimiter in ("tab", "\\t") else args.delimiter
    options = ImportOptions(
        leading_zero_ids=args.leading_zero_ids, limits=limits, delimiter=delimiter,
        user_columns=tuple(args.user_columns) if args.user_columns is not None else None,
        item_columns=tuple(args.item_columns) if args.item_columns is not None else None,
    )
    ws = open_workspace(args)
    try:
        info, prepared = import_files(
            ws, args.interactions, args.users, args.items, name=args.name, mapping=mapping or None,
            options=options, pseudonymise=args.pseudonymise, refuse_duplicate=not args.allow_duplicate,
        )
    except DuplicateImportError as exc:
        print(f"Not imported: {exc}\nFix: use dataset {exc.existing.id} (--dataset {exc.existing.id}), or add "
              "--allow-duplicate to keep a second copy.", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print_json({"dataset": info.to_dict()})
        return 0
    print(fill(_("Imported dataset {id} '{name}': {interactions} interactions, {customers} customers, "
                 "{offers} offers."), id=info.id, name=info.name, interactions=i18n.format_number(info.n_interactions),
               customers=i18n.format_number(info.n_users), offers=i18n.format_number(info.n_items)))
    if prepared.mapping:
        print(_("Columns used:") + " " + "; ".join(
            f"{_(table)}: " + ", ".join(f"{theirs} -> {canonical}" for canonical, theirs in cols.items())
            for table, cols in prepared.mapping.items()))
    print(_("Cleaning report:"))
    print(report_text(prepared.report))
    for warning in prepared.warnings:
        print(fill(_("warning: {warning}"), warning=warning))
    return 0


#: The cleaning report's headers and actions, for people (the report itself keeps its English keys).
REPORT_WORDS = {
    "table": N_("table"), "name": N_("step"), "count": N_("rows"), "action": N_("action"),
    "description": N_("what and why"), "example_rows": N_("example rows"),
    "dropped": N_("dropped"), "fixed": N_("fixed"), "kept": N_("kept"),
    "interactions": N_("interactions"), "users": N_("users"), "items": N_("items"),
}


def report_text(report: Any) -> str:
    """The cleaning report as a table in the current language (headers, actions and table names)."""
    frame = report.to_frame()
    words = {k: _(v) for k, v in REPORT_WORDS.items()}
    for column in ("table", "action"):
        frame[column] = frame[column].map(lambda v: words.get(v, v))  # a handful of steps
    return frame.rename(columns=words).to_string(index=False)



# ---------------------------------------------------------------------------- append
def append_args(p: argparse.ArgumentParser) -> None:
    workspace_arg(p)
    p.add_argument("--dataset", required=True, help=_("dataset id to add the data to (see `promolens datasets`)"))
    p.add_argument("--interactions", type=Path, default=None, help=_("new interactions (same columns as the import)"))
    p.add_argument("--users", type=Path, default=None, help=_("new or changed customers (every customer column)"))
    p.add_argument("--items", type=Path, default=None, help=_("new or changed offers (every offer column)"))
    p.add_argument("--name", default=None, help=_("a name for this batch (default: the file names)"))
    p.add_argument("--json", action="store_true", help=_("print the append's record as JSON"))


def cmd_append(args: argparse.Namespace) -> int:
    from recsys.workspace.ingest import append_files

    if args.interactions is None and args.users is None and args.items is None:
        print(_("Nothing to append: give --interactions, --users and/or --items."), file=sys.stderr)
        return EXIT_BAD_INPUT
    ws = open_workspace(args)
    record, prepared = append_files(
        ws, args.dataset, args.interactions, args.users, args.items, name=args.name,
    )
    if args.json:
        print_json({"append": record, "dataset": ws.dataset(args.dataset).to_dict()})
        return 0
    info = ws.dataset(args.dataset)
    print(fill(_("Appended batch {seq} '{name}' to dataset {id} '{dataset}': {rows} interactions, {new_users} new "
                 "customers, {new_items} new offers, {updated_users} customers and {updated_items} offers with new "
                 "facts."), seq=record["seq"], name=record["name"], id=info.id, dataset=info.name,
               rows=f"{record['n_rows']:,}", new_users=f"{record['n_new_users']:,}",
               new_items=f"{record['n_new_items']:,}", updated_users=f"{record['n_updated_users']:,}",
               updated_items=f"{record['n_updated_items']:,}"))
    if record["first_event"] is not None:
        print(fill(_("Events from {first} to {last}."), first=f"{record['first_event']:%Y-%m-%d %H:%M}",
                   last=f"{record['last_event']:%Y-%m-%d %H:%M}"))
    print(fill(_("The dataset now has {interactions} interactions, {customers} customers and {offers} offers "
                 "(version {version})."), interactions=f"{info.n_interactions:,}", customers=f"{info.n_users:,}",
               offers=f"{info.n_items:,}", version=info.version))
    print(_("Cleaning report:"))
    print(report_text(prepared.report))
    for warning in prepared.warnings:
        print(fill(_("warning: {warning}"), warning=warning))
    return 0


# ---------------------------------------------------------------------------- datasets
def datasets_args(p: argparse.ArgumentParser) -> None:
    workspace_arg(p)
    p.add_argument("--json", action="store_true", help=_("print JSON"))


def cmd_datasets(args: argparse.Namespace) -> int:
    infos = open_workspace(args).datasets()
    if args.json:
        print_json([i.to_dict() for i in infos])
        return 0
    if not infos:
        print(_("No datasets yet. Import one with `promolens import --interactions FILE`."))
    for i in infos:
        print("\t".join([i.id, i.name, fill(_("{n} interactions"), n=f"{i.n_interactions:,}"),
                         fill(_("{n} customers"), n=f"{i.n_users:,}"), fill(_("{n} offers"), n=f"{i.n_items:,}"),
                         fill(ngettext("{n} append", "{n} appends", i.version), n=i.version),
                         f"{i.created_at:%Y-%m-%d %H:%M}"]))
    return 0
