"""``python -m funcroute``: the same as the ``funcroute`` command."""

import sys

from funcroute.cli.main import main

sys.exit(main())
