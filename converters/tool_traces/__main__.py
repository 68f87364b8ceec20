"""`python -m converters.tool_traces`: see cli.py."""

import sys

from converters.tool_traces.cli import main

sys.exit(main())
