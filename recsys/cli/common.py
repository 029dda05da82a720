"""What every ``promolens`` subcommand shares: exit codes, ``--workspace``, JSON output, progress lines."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recsys.core.i18n import gettext as _
from recsys.core.jsonio import dumps
from recsys.workspace.store import default_workspace_path

EXIT_BAD_INPUT = 2
EXIT_WORKSPACE = 3

Handler = Callable[[argparse.Namespace], int]
ArgAdder = Callable[[argparse.ArgumentParser], None]


def print_json(data: Any) -> None:
    print(dumps(data, indent=2, sort_keys=False))


def workspace_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace", type=Path, default=None,
        help=_("workspace directory (default: $PROMOLENS_WORKSPACE or ./workspace)"),
    )


def open_workspace(args: argparse.Namespace):  # noqa: ANN202 - Workspace, imported lazily
    from recsys.workspace.store import Workspace

    return Workspace(args.workspace or default_workspace_path())


def progress_printer(quiet: bool) -> Callable[[str, float], None]:
    """A progress callback printing "[ 40%] message" lines to stderr (nothing when ``quiet``)."""

    def progress(message: str, share: float) -> None:
        if not quiet:
            print(f"[{share:4.0%}] {message}", file=sys.stderr)

    return progress
