"""`python -m converters.grounding`: see converters/sft/grounding_report.py."""

import sys

from converters.sft.grounding_report import main

sys.exit(main())
