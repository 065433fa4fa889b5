"""``python -m bayesspr.cli``: the ``bayesspr`` command line."""

import sys

from bayesspr.cli.main import main

sys.exit(main())
