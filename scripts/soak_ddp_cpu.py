"""Soak test of the two-process CPU training (issue 11, item 11): N consecutive torchrun launches.

    python scripts/soak_ddp_cpu.py [--runs 10] [--timeout 600] [--json runs/soak_ddp_cpu.json]

Each run is what a user types:

    FORCE_TORCHRUN=1 NPROC_PER_NODE=2 make train RECIPE=tiny_cpu_sft \\
        OVERRIDES="max_steps=3 ddp_backend=gloo output_dir=/tmp/x save_steps=1000" OVERWRITE=1

and is recorded with its exit code, wall time, each rank's peak RSS (from the run's manifest),
the lowest MemAvailable seen during the run and the load average, because the machine is shared.
Needs `make tiny-model` and a converted `ordebug` dataset first (`make generate/collect/convert`).
Exits 1 unless every run finished.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def mem_available_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return -1


def one_run(out: Path, timeout: float, max_steps: int) -> dict:
    cmd = [sys.executable, "-m", "recipes.train", "--recipe", "tiny_cpu_sft", "--overwrite", "--override",
           f"max_steps={max_steps}", "ddp_backend=gloo", f"output_dir={out}", "save_steps=1000"]
    env = {**os.environ, "FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "2"}
    lowest = [mem_available_mib()]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.5):
            lowest[0] = min(lowest[0], mem_available_mib())

    thread = threading.Thread(target=watch, daemon=True)
    load_before = os.getloadavg()[0]
    start = time.monotonic()
    thread.start()
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        rc, tail = proc.returncode, (proc.stdout + proc.stderr)[-1500:]
    except subprocess.TimeoutExpired as err:
        rc, tail = "timeout", str(err.stderr or "")[-1500:]
    finally:
        done.set()
        thread.join()
    wall = time.monotonic() - start
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").is_file() else {}
    phase = (manifest.get("phases") or [{}])[0]
    return {"rc": rc, "status": manifest.get("status"), "error": manifest.get("error"), "wall_s": round(wall, 1),
            "peak_rss_mib": phase.get("peak_rss_mib", {}), "mem_available_min_mib": lowest[0],
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
            "tail": tail if rc != 0 else ""}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    # the issue used 240 s; on a machine shared by several engineers a healthy run can take longer
    parser.add_argument("--timeout", type=float, default=600, help="seconds per run before it counts as hung")
    parser.add_argument("--max-steps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/soak_ddp_cpu"), help="the run's output_dir")
    parser.add_argument("--json", type=Path, default=REPO / "runs" / "soak_ddp_cpu.json")
    opts = parser.parse_args(argv)
    total_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"{opts.runs} runs, {os.cpu_count()} cores, {total_gib:.1f} GiB RAM; each: FORCE_TORCHRUN=1 "
          f"NPROC_PER_NODE=2, max_steps={opts.max_steps}, ddp_backend=gloo", flush=True)
    print(f"{'run':>3} {'rc':>7} {'wall s':>7} {'rank0 MiB':>9} {'rank1 MiB':>9} {'min avail MiB':>13} "
          f"{'load 1m':>11}", flush=True)
    rows = []
    for i in range(1, opts.runs + 1):
        row = one_run(opts.out, opts.timeout, opts.max_steps)
        rows.append(row)
        peaks = row["peak_rss_mib"]
        print(f"{i:>3} {row['rc']!s:>7} {row['wall_s']:>7} {peaks.get('0', '-')!s:>9} {peaks.get('1', '-')!s:>9} "
              f"{row['mem_available_min_mib']:>13} {row['load_before']:>5}->{row['load_after']:<5}", flush=True)
        if row["rc"] != 0:
            print(f"    {row['error'] or ''}\n    {row['tail'][-600:]}", flush=True)
    ok = sum(r["rc"] == 0 and r["status"] == "finished" for r in rows)
    peaks = [int(v) for r in rows for v in r["peak_rss_mib"].values()]
    print(f"{ok}/{len(rows)} finished; peak RSS per rank max {max(peaks, default=0)} MiB, "
          f"min {min(peaks, default=0)} MiB")
    opts.json.parent.mkdir(parents=True, exist_ok=True)
    opts.json.write_text(json.dumps({"runs": rows, "finished": ok}, indent=1))
    print(f"details: {opts.json}")
    return 0 if ok == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
