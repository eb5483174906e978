"""``python -m noise2noise.cli``."""

import sys

from . import main

sys.exit(main())
