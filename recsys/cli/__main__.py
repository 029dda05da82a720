"""``python -m recsys.cli``: the ``promolens`` command without its console script."""

import sys

from recsys.cli import main

sys.exit(main())
