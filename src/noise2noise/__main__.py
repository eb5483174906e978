"""``python -m noise2noise``: the ``n2n`` command, for a source tree or an environment
without the console script on its PATH."""

import sys

from .cli import main

sys.exit(main())
