"""How fast a misspelt recipe key is rejected, against importing LLaMA-Factory's parser in the same run.

    python benchmarks/bench_recipe_check.py [--repeat 3]

Before issue 11 (item 16) the check imported torch, transformers and LLaMA-Factory first (8-9 s
on a 2-core machine); now keys, types and ranges come from recipes/lf_schema.json. Baselines,
measured here in the same run: a bare `python -c pass` (interpreter start) and
`import llamafactory.hparams.parser` (what the old check paid before saying anything).
Goal: the rejection well under the import, and under 5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def seconds(cmd: list[str], repeat: int, expect_rc: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        rc = subprocess.run(cmd, cwd=REPO, capture_output=True, check=False).returncode
        times.append(time.perf_counter() - start)
        if rc != expect_rc:
            raise SystemExit(f"{cmd} exited {rc}, expected {expect_rc}")
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args(argv)
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        reject = [py, "-m", "recipes.train", "--recipe", "tiny_cpu_sft", "--dry-run", "--override",
                  f"output_dir={tmp}/run", "lerning_rate=1e-3"]
        load = os.getloadavg()[0]
        bare = seconds([py, "-c", "pass"], opts.repeat, 0)
        heavy = seconds([py, "-c", "import llamafactory.hparams.parser"], opts.repeat, 0)
        check = seconds(reject, opts.repeat, 2)
    print(f"median of {opts.repeat}, load average {load:.2f} -> {os.getloadavg()[0]:.2f}")
    print(f"  python -c pass                        {bare:6.2f} s")
    print(f"  import llamafactory.hparams.parser    {heavy:6.2f} s")
    print(f"  reject a misspelt key (recipes.train) {check:6.2f} s   = {check / heavy:.2f} x the import "
          f"({'under' if check < 5 else 'OVER'} the 5 s goal)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
