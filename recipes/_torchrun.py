"""torchrun (`torch.distributed.run`), plus a record of which rank failed and how.

    python -m recipes._torchrun <torchrun arguments> -m recipes._entry runs/<name>/llamafactory_args.yaml

Same arguments and behaviour as `python -m torch.distributed.run`: the moment one rank dies, its
agent stops the others and the launch fails. torchrun reports that in a long box of text; this
module also writes the failures as JSON to the file named by `RANK_FAILURES_FILE` (when set), so
the launcher can say in one line "rank 1 was killed (out of memory?) by SIGKILL".
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

#: Environment variable naming the JSON file the failures are written to.
FAILURES_ENV = "RANK_FAILURES_FILE"


def failures_json(failures: dict[int, Any]) -> list[dict[str, Any]]:
    """torchelastic's ProcessFailure records as plain data, the cause first.

    When one rank dies the agent stops the others with SIGTERM, and those are listed as failures too,
    often within the same second (timestamps are whole seconds): they go last.
    """
    rows = [{"rank": int(rank), "local_rank": f.local_rank, "pid": f.pid, "exitcode": f.exitcode,
             "signal": f.signal_name() if f.exitcode < 0 else None, "timestamp": f.timestamp}
            for rank, f in failures.items()]
    return sorted(rows, key=lambda r: (r["signal"] == "SIGTERM", r["timestamp"], r["rank"]))


def main(argv: list[str] | None = None) -> int:
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    try:
        run(parse_args(sys.argv[1:] if argv is None else argv))
    except ChildFailedError as err:
        target = os.environ.get(FAILURES_ENV)
        if target:
            with open(target, "w", encoding="utf-8") as fh:
                json.dump(failures_json(err.failures), fh)
        print(f"torchrun: {err.name} failed: " + "; ".join(
            f"rank {r['rank']} " + (f"killed by {r['signal']}" if r["signal"] else f"exit code {r['exitcode']}")
            for r in failures_json(err.failures)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
