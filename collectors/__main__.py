"""``python -m collectors`` — see collectors.cli."""

from collectors.cli import main

raise SystemExit(main())
