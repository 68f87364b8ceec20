"""`python -m converters.sft`: see cli.py."""

import sys

from converters.sft.cli import main

sys.exit(main())
