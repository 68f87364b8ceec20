"""Conversion speed: ``converters.sft`` vs a raw json-decode-and-write loop over the same trajectories.

    .venv/bin/python benchmarks/bench_convert.py [--n 100000] [--layout legacy] [--no-length-check]

Synthesises N trajectories (tests.support.synthetic: real observation renderer, real action
grammar), then times in the same run

- baseline: read each line, ``json.loads`` it, write one ``json.dumps`` row per step in the same
  shape as the dataset rows (Alpaca columns, system prompt, the same metadata keys), nothing else;
- converter: ``converters.sft.pipeline.convert`` (validation, answer checks, dedup, token length with
  the real Qwen3 tokenizer + qwen3_think template, grouped split, card, atomic write).

and prints samples/s of both and the ratio (goal >= 0.5). The one-off start-up of the length
check (importing LLaMA-Factory/torch, loading the tokenizer) is paid before timing and printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

# the repository root: tests.support (the synthesiser) ships with the tests, not the packages
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from converters.sft.checks import token_counter
from converters.sft.pipeline import ConvertOptions, clear_caches, convert
from ordebug.prompts import INSTRUCTION, system_prompt
from tests.support.synthetic import write_trajectories


def raw_loop(src: Path, dst: Path) -> int:
    """The baseline: what a throwaway script does with the same data. Decode every trajectory and
    write one row of the same shape per step (Alpaca columns + the same metadata keys), with no
    validation, checks, dedup, token counts, splits or card."""
    system = system_prompt("legacy")
    n = 0
    with src.open(encoding="utf-8") as fin, dst.open("w", encoding="utf-8") as fout:
        for line in fin:
            traj = json.loads(line)
            problem = traj["problem"]
            for step in traj["steps"]:
                meta = {
                    "problem_id": traj["problem_id"],
                    "error_type": problem.get("error_type"),
                    "difficulty": problem.get("difficulty"),
                    "family": problem.get("family"),
                    "step": step["index"],
                    "steps": len(traj["steps"]),
                    "agent": traj["agent"],
                    "source": traj["agent"],
                    "success": traj["outcome"]["success"],
                    "layout": traj["layout"],
                    "action": step["action"],
                    "origin": f"{src}:{n}",
                }
                row = {
                    "instruction": INSTRUCTION,
                    "input": step["observation"],
                    "output": step["raw_output"],
                    "system": system,
                    "metadata": meta,
                }
                fout.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--n", type=int, default=100_000, help="trajectories to synthesise")
    p.add_argument("--layout", choices=["legacy", "rich"], default="legacy")
    p.add_argument("--no-length-check", dest="length_check", action="store_false")
    p.add_argument("--rounds", type=int, default=2, help="interleaved timing rounds (best of each is kept)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src = root / "trajectories" / "teacher.jsonl"
        src.parent.mkdir()
        t0 = time.perf_counter()
        write_trajectories(src, args.n, layout=args.layout, success=True)
        print(
            f"synthesised {args.n} trajectories ({src.stat().st_size / 1e6:.0f} MB) "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        if args.length_check:
            t0 = time.perf_counter()
            token_counter()  # pay imports and tokenizer loading once, outside the timings
            print(
                f"length-check start-up (LLaMA-Factory import, tokenizer): {time.perf_counter() - t0:.1f} s"
            )

        # Interleaved rounds, best of each, in wall and CPU seconds: on a shared machine the wall
        # clock also measures the neighbours; CPU time of this process measures our work.
        wall = {"raw": float("inf"), "conv": float("inf")}
        cpu = dict(wall)
        opts = ConvertOptions(inputs=[str(src)], root=root, progress=False, length_check=args.length_check)
        for _ in range(args.rounds):
            w0, c0 = time.perf_counter(), time.process_time()
            n_raw = raw_loop(src, root / "raw.jsonl")
            wall["raw"], cpu["raw"] = (
                min(wall["raw"], time.perf_counter() - w0),
                min(cpu["raw"], time.process_time() - c0),
            )
            clear_caches()  # every round starts as cold as a fresh CLI run (tokenizer loaded)
            w0, c0 = time.perf_counter(), time.process_time()
            card = convert(opts)
            wall["conv"], cpu["conv"] = (
                min(wall["conv"], time.perf_counter() - w0),
                min(cpu["conv"], time.process_time() - c0),
            )
        n_conv = sum(s["samples"] for s in card["splits"].values())

    label = "converters.sft" + ("" if args.length_check else " (no length check)")
    print(f"{'':<34}{'samples':>9}{'wall s':>9}{'cpu s':>9}{'samples/s wall':>16}{'samples/s cpu':>15}")
    for name, key, n in (("raw json decode+write loop", "raw", n_raw), (label, "conv", n_conv)):
        print(f"{name:<34}{n:>9}{wall[key]:>9.2f}{cpu[key]:>9.2f}{n / wall[key]:>16.0f}{n / cpu[key]:>15.0f}")
    ratio_wall = (n_conv / wall["conv"]) / (n_raw / wall["raw"])
    ratio_cpu = (n_conv / cpu["conv"]) / (n_raw / cpu["raw"])
    print(
        f"converter stages (wall s, last round): {card['timings_s']}; length mode: {card['length'].get('mode')}"
    )
    print(f"ratio converter/raw: {ratio_cpu:.2f} by CPU time, {ratio_wall:.2f} by wall time (goal >= 0.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
