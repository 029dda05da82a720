"""The ``promolens`` command: every main job without a browser.

Exit codes: 0 done, 2 bad input (the report says what to fix), 3 workspace busy or missing.

Here the parser, ``main`` and the language; the subcommands, one handler and argument adder each:

- ``common``: what every subcommand shares: exit codes, ``--workspace``, JSON output, progress lines.
- ``data``: ``sample``, ``import``, ``append``, ``datasets``.
- ``models``: ``train``, ``runs``, ``update``, ``freshness``, ``serve``.
- ``campaigns``: ``measure``, ``segments``, ``export``, ``uplift``, ``batch``.
- ``lists``: ``recommend``, ``audit``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence

from recsys.cli.campaigns import (
    batch_args, cmd_batch, cmd_export, cmd_measure, cmd_segments, cmd_uplift, export_args, measure_args, segments_args,
    uplift_args,
)
from recsys.cli.common import EXIT_BAD_INPUT, EXIT_WORKSPACE, ArgAdder, Handler
from recsys.cli.data import (
    append_args, cmd_append, cmd_datasets, cmd_import, cmd_sample, datasets_args, import_args, sample_args,
)
from recsys.cli.lists import audit_args, cmd_audit, cmd_recommend, recommend_args
from recsys.cli.models import (
    cmd_freshness, cmd_runs, cmd_serve, cmd_train, cmd_update, freshness_args, runs_args, serve_args, train_args,
    update_args,
)
from recsys.core import i18n
from recsys.core.i18n import N_
from recsys.core.i18n import gettext as _
from recsys.workspace.store import WorkspaceError

#: name -> (handler, argument adder, help text)
COMMANDS: dict[str, tuple[Handler, ArgAdder, str]] = {
    "sample": (cmd_sample, sample_args, N_("write a synthetic shop with a planted truth")),
    "import": (cmd_import, import_args, N_("import interaction / customer / offer files into the workspace")),
    "append": (cmd_append, append_args, N_("add new interactions, customers or offers to a dataset (validated, atomic)")),
    "datasets": (cmd_datasets, datasets_args, N_("list the datasets in the workspace")),
    "train": (cmd_train, train_args, N_("train and evaluate a model against baselines (one run)")),
    "runs": (cmd_runs, runs_args, N_("list, compare or delete training runs")),
    "update": (cmd_update, update_args, N_("update a run's model with the data appended since (a new run, no retraining)")),
    "freshness": (cmd_freshness, freshness_args, N_("is a run's model stale? its accuracy on new events and what to do")),
    "segments": (cmd_segments, segments_args, N_("customer segments: RFM, by customer columns or behavioural clusters; save them")),
    "export": (cmd_export, export_args, N_("build a campaign targeting list with a control group and export it as CSV")),
    "measure": (cmd_measure, measure_args, N_("measure the lift of a campaign: treatment vs control with confidence intervals")),
    "uplift": (cmd_uplift, uplift_args, N_("learn and judge uplift models on a randomised table: Qini, AUUC, uplift@k per arm")),
    "serve": (cmd_serve, serve_args, N_("show or switch a run's serving model: its best validated model or the hybrid")),
    "recommend": (cmd_recommend, recommend_args, N_("a customer's top offers with score, rank and exact attributions")),
    "batch": (cmd_batch, batch_args, N_("score every customer against the live offers (one machine or Spark): top-k files and a targeting list")),
    "audit": (cmd_audit, audit_args, N_("fairness and diversity audit of a run: groups, four-fifths rule, exposure, lists")),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promolens", description=_("PromoLens: explainable coupon targeting"))
    lang_help = _("language of the messages (default: $PROMOLENS_LANG, else the system locale)")
    parser.add_argument("--lang", default=None, type=i18n.check_language, metavar="{en,zh_CN}", help=lang_help)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (handler, add_args, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=_(help_text), description=_(help_text))
        p.add_argument("--lang", default=argparse.SUPPRESS, type=i18n.check_language, metavar="{en,zh_CN}",
                       help=lang_help)  # also after the command: `promolens import --lang zh_CN ...`
        add_args(p)
        p.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``promolens`` console script."""
    from recsys.data.validate import DataError

    token = i18n.set_language(cli_language(argv))
    try:
        args = build_parser().parse_args(argv)
        return int(args.handler(args))
    except DataError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    except WorkspaceError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_WORKSPACE
    finally:
        i18n.reset_language(token)


def cli_language(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The CLI's language: ``--lang``, else ``$PROMOLENS_LANG``, else the system locale, else English."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--lang", default=None)
    known, _rest = pre.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    environ = os.environ if environ is None else environ
    for candidate in (known.lang, environ.get(i18n.LANG_ENV)):
        if candidate:
            return i18n.check_language(candidate)
    system = next((environ[k] for k in ("LC_ALL", "LC_MESSAGES", "LANG") if environ.get(k)), None)
    return i18n.negotiate(system)
