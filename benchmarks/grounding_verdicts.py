"""The grounding checker gives the same verdict on every sample as the checker of another revision.

    .venv/bin/python benchmarks/grounding_verdicts.py --baseline REV FILE... [--synthetic N]

A speed change to ``converters/sft/grounding.py`` must not change a single verdict. This loads the
checker as it was at ``REV`` (``git show REV:converters/sft/grounding.py``, run as its own module
beside today's code) and compares, sample by sample, everything ``check_grounding`` returns:
the counts, every finding (kind, text, part, reason) in order, and the counts by rule. FILEs are
what ``python -m converters.grounding`` reads (trajectories, legacy Alpaca ``.json``, messages
``.jsonl``); ``--synthetic N`` adds N synthesised trajectories in each layout. It also times both
checkers over the same samples, alternating which goes first; the two copies of the same code time up
to ~8% apart, so read a ratio within that as no change. Exit status 1 when any verdict differs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from converters.sft import grounding as current
from converters.sft.grounding_report import read_samples, sample_prompt

CHECKER = "converters/sft/grounding.py"


def checker_at(rev: str) -> types.ModuleType:
    """The grounding module as it was at ``rev`` (imports resolve against today's tree)."""
    source = subprocess.run(["git", "show", f"{rev}:{CHECKER}"], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout
    module = types.ModuleType(f"grounding_at_{rev}")
    module.__file__ = f"{rev}:{CHECKER}"
    sys.modules[module.__name__] = module  # dataclasses look their module up while the class is built
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - our own file at a revision
    return module


def clear_caches(module: types.ModuleType) -> None:
    """Empty every lru_cache of the module, so each timing starts cold like a fresh convert."""
    for value in vars(module).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


def verdict(result: Any) -> tuple[Any, ...]:
    """Everything a Grounding says, as plain values comparable across module copies."""
    findings = tuple((f.kind, f.text, f.part, f.reason) for f in result.ungrounded)
    return (result.numbers_total, result.numbers_grounded, result.names_total, result.names_grounded, findings,
            tuple(sorted(result.grounded_by.items())))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="*", type=Path, help="trajectory / legacy / messages files")
    p.add_argument("--baseline", default="HEAD", help="git revision whose checker is the reference")
    p.add_argument("--synthetic", type=int, default=0, help="also N synthesised trajectories per layout")
    p.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (best CPU time kept)")
    args = p.parse_args(argv)
    files: list[Path] = list(args.files)
    with tempfile.TemporaryDirectory() as tmp:
        if args.synthetic:
            from tests.support.synthetic import write_trajectories

            for layout in ("legacy", "rich"):
                files.append(write_trajectories(Path(tmp) / f"synthetic_{layout}.jsonl", args.synthetic,
                                                layout=layout))
        samples = [(path, s) for path in files for s in read_samples(path, keep_failures=True)]
    base = checker_at(args.baseline)
    prompts = [(sample_prompt(s), s.output) for _, s in samples]
    timings = {"baseline": float("inf"), "current": float("inf")}
    verdicts = {}
    checkers = [("baseline", base), ("current", current)]
    for r in range(args.rounds):  # interleaved, caches cleared, best CPU time of each: the machine is shared
        for name, module in checkers if r % 2 == 0 else checkers[::-1]:  # who goes first alternates
            clear_caches(module)
            t0 = time.process_time()
            verdicts[name] = [verdict(module.check_grounding(prompt, answer)) for prompt, answer in prompts]
            timings[name] = min(timings[name], time.process_time() - t0)
    differ = [i for i, (a, b) in enumerate(zip(verdicts["baseline"], verdicts["current"], strict=True)) if a != b]
    differ_set = set(differ)
    by_file: dict[Path, list[int]] = {}
    for i, (path, _) in enumerate(samples):
        by_file.setdefault(path, []).append(i)
    for path, idx in by_file.items():
        n_diff = sum(1 for i in idx if i in differ_set)
        ok = sum(1 for i in idx if not verdicts["current"][i][4])
        print(f"{path}: {len(idx)} samples, {ok} grounded, {n_diff} verdicts differ from {args.baseline}")
    print(f"checker CPU time over {len(prompts)} samples (cold caches, best of {args.rounds}): baseline {timings['baseline']:.2f} s, "
          f"current {timings['current']:.2f} s, ratio {timings['baseline'] / timings['current']:.2f}x")
    for i in differ[:5]:
        print(f"  differs: {samples[i][0]} sample {samples[i][1].meta.get('origin')}:\n"
              f"    baseline {verdicts['baseline'][i]}\n    current  {verdicts['current'][i]}")
    print(f"{len(differ)} of {len(prompts)} verdicts differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
