"""`python -m converters.search_traces`: see cli.py."""

import sys

from converters.search_traces.cli import main

sys.exit(main())
