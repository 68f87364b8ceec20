"""`python -m converters.presample`: see cli.py."""

import sys

from converters.presample.cli import main

sys.exit(main())
