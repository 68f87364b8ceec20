"""Collection speed: scripted agents against a bare gurobipy loop, the teacher against a bare client.

    .venv/bin/python benchmarks/bench_collect.py [--copies 4] [--workers 2]
        [--teacher-problems 640] [--concurrency 64] [--latency 0.2] [--rounds 2] [--skip-scripted]
        [--realistic-problems 2560] [--realistic-concurrency 256] [--realistic-latency 1.0]
        [--skip-realistic]

Part 1 (scripted, same problems, same run):
- baseline: a bare gurobipy loop doing the solver work every episode starts with (read the
  model, optimize, computeIIS), one thread;
- ``drop_first`` collection (runner + DebugEnv + trajectory file: the collector's own overhead);
- ``heuristic`` collection (its repair search solves several feasRelax probes per step), as
  collected by default (rich layout, what-if actions: the environment answers WHATIF_IIS with the
  same probes and the agent recomputes them, so grounded data costs about twice the probing) and
  in the legacy layout without them (the ungrounded data of before).
Prints problems/s of each and their ratio to the baseline.

Part 2 (teacher): a loopback OpenAI-compatible server in its own process answers every request
after a fixed ``--latency`` (200 ms). At ``--concurrency`` (64) in flight, ideal = concurrency /
latency requests/s. Measured in the same run:
- a bare ``AsyncOpenAI`` loop: ``concurrency`` tasks sending the same requests back to back;
- teacher collection (real episodes: the real client, retries policy, Gurobi steps, fsynced
  JSONL), requests/s = LLM calls / wall time.
Prints both against the ideal (goal >= 0.8) and teacher / bare (goal >= 0.9).

Part 3 (teacher, realistic latency): a hosted API answers in about a second, so a collector keeps
hundreds of calls in flight. The loopback server answers after ``--realistic-latency`` (1 s) with
``--realistic-concurrency`` (256) episodes in flight; collection must reach >= 0.9 of the ideal
(concurrency / latency). The last wave of episodes cannot fill every slot, so the run is long
enough (``--realistic-problems``) for that tail to be small.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import gurobipy as gp
from openai import AsyncOpenAI

from collectors.runner import RunOptions, collect
from ordebug.episode import DebugEnv
from ordebug.generate import generate
from ordebug.inject import TYPES
from ordebug.problems import Problem, load_problems
from play.agents import SCRIPTED
from play.agents.teacher import TeacherAgent
from play.llm import LLMClient
from play.llm_config import LLMConfig
from tests.support.loopback import LoopbackProcess


def problems(tmp: Path, copies: int) -> list[Problem]:
    """The default benchmark's recipe (45 problems, types A-I), repeated under distinct ids."""
    generate(tmp / "bench", n=45, seed=0, types=TYPES, progress=False)
    base = load_problems(tmp / "bench")
    return [p.model_copy(update={"problem_id": f"{p.problem_id}~{k}"}) for k in range(copies) for p in base]


def bare_gurobi(items: list[Problem]) -> float:
    env = gp.Env(empty=True)
    env.setParam("OutputFlag", 0)
    env.start()
    t0 = time.perf_counter()
    for p in items:
        model = gp.read(str(p.model_path), env=env)
        model.optimize()
        if model.Status == gp.GRB.INFEASIBLE:
            model.computeIIS()
        model.dispose()
    return len(items) / (time.perf_counter() - t0)


def scripted(items: list[Problem], agent: str, workers: int, tmp: Path, **kw: object) -> float:
    options = RunOptions(out=tmp / f"{agent}.jsonl", workers=workers, progress=False, overwrite=True, **kw)
    t0 = time.perf_counter()
    collect(items, options, agent_factory=SCRIPTED[agent])
    return len(items) / (time.perf_counter() - t0)


def cpu_s(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


async def bare_client(url: str, n_requests: int, concurrency: int, messages: list[dict[str, str]]) -> float:
    client = AsyncOpenAI(base_url=url, api_key="bench", max_retries=0)
    left = n_requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await client.chat.completions.create(model="loopback", messages=messages, temperature=0.0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    await client.close()
    return n_requests / elapsed


def teacher_run(
    url: str, items: list[Problem], concurrency: int, workers: int, tmp: Path
) -> tuple[float, int, float, float]:
    """(requests/s, requests, client-process CPU ms/request, episode-host CPU ms/request)."""
    config = LLMConfig(base_url=url, model="loopback", temperature=0.0, timeout_s=30, max_retries=2)
    teacher = TeacherAgent(LLMClient(config))
    options = RunOptions(
        out=tmp / "teacher.jsonl", workers=workers, concurrency=concurrency, progress=False, overwrite=True
    )
    cpu0, kids0 = cpu_s(resource.RUSAGE_SELF), cpu_s(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    result = collect(items, options, teacher=teacher)
    elapsed = time.perf_counter() - t0
    calls = result.summary["this_run"]["usage"]["calls"]
    parent = (cpu_s(resource.RUSAGE_SELF) - cpu0) / calls * 1000
    hosts = (cpu_s(resource.RUSAGE_CHILDREN) - kids0) / calls * 1000  # hosts are waited for on close
    return calls / elapsed, calls, parent, hosts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--copies", type=int, default=4, help="scripted part: the 45 problems repeated this often"
    )
    ap.add_argument("--workers", type=int, default=2, help="solver threads (this machine has 2 cores)")
    ap.add_argument("--teacher-problems", type=int, default=640)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--skip-scripted", action="store_true", help="only the teacher part")
    ap.add_argument("--rounds", type=int, default=2, help="alternating teacher/bare rounds (median reported)")
    ap.add_argument("--realistic-problems", type=int, default=2560, help="part 3: teacher episodes")
    ap.add_argument("--realistic-concurrency", type=int, default=256, help="part 3: episodes in flight")
    ap.add_argument("--realistic-latency", type=float, default=1.0, help="part 3: server latency (s)")
    ap.add_argument("--skip-realistic", action="store_true", help="skip part 3 (1 s latency, 256 in flight)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-collect-") as tmpdir:
        tmp = Path(tmpdir)
        if not args.skip_scripted:
            items = problems(tmp, args.copies)
            print(
                f"== scripted collection: {len(items)} problems (default benchmark recipe), workers={args.workers}"
            )
            base = bare_gurobi(items)
            drop = scripted(items, "drop_first", args.workers, tmp)
            heur = scripted(items, "heuristic", args.workers, tmp)
            plain = scripted(items, "heuristic", args.workers, tmp, layout="legacy", whatif=False)
            print(f"{'bare gurobipy loop (read+optimize+IIS)':42s} {base:8.1f} problems/s")
            print(f"{'drop_first collection':42s} {drop:8.1f} problems/s   ratio {drop / base:.2f}")
            print(f"{'heuristic collection (rich, what-if)':42s} {heur:8.1f} problems/s   ratio {heur / base:.2f}")
            print(f"{'heuristic collection (legacy, no what-if)':42s} {plain:8.1f} problems/s   ratio {plain / base:.2f}")

        copies = -(-args.teacher_problems // 45)
        titems = problems(tmp / "t", copies)[: args.teacher_problems]
        env = DebugEnv()
        obs, _ = env.reset(titems[0])
        teacher_messages = TeacherAgent(LLMClient(LLMConfig(base_url="http://x", model="m"))).messages(obs)
        ideal = args.concurrency / args.latency
        print(
            f"\n== teacher vs loopback server: latency {args.latency * 1000:.0f} ms, {args.concurrency} concurrent, "
            f"{len(titems)} episodes per run, {args.rounds} alternating rounds; load average "
            f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (other work slows both alike)"
        )
        bare_all, teacher_all = [], []
        with LoopbackProcess(latency_s=args.latency, responder="drop_first") as url:
            for r in range(args.rounds):
                teacher_rps, calls, parent_ms, host_ms = teacher_run(
                    url, titems, args.concurrency, args.workers, tmp
                )
                c0 = cpu_s(resource.RUSAGE_SELF)
                bare_rps = asyncio.run(bare_client(url, calls, args.concurrency, teacher_messages))
                bare_ms = (cpu_s(resource.RUSAGE_SELF) - c0) / calls * 1000
                bare_all.append(bare_rps)
                teacher_all.append(teacher_rps)
                print(
                    f"round {r + 1} ({calls} requests): bare {bare_rps:6.1f} req/s ({bare_ms:.2f} ms CPU/req) | "
                    f"teacher {teacher_rps:6.1f} req/s ({parent_ms:.2f} ms CPU/req in the client process + "
                    f"{host_ms:.2f} in episode hosts) | {teacher_rps / bare_rps:.2f} of bare"
                )
        bare_rps, teacher_rps = statistics.median(bare_all), statistics.median(teacher_all)
        print(f"{'ideal (concurrency / latency)':42s} {ideal:8.1f} req/s")
        print(
            f"{'bare AsyncOpenAI loop (median)':42s} {bare_rps:8.1f} req/s   {bare_rps / ideal:.2f} of ideal"
        )
        print(
            f"{'teacher collection (median)':42s} {teacher_rps:8.1f} req/s   {teacher_rps / ideal:.2f} of ideal "
            f"(goal >= 0.8), {teacher_rps / bare_rps:.2f} of bare (goal >= 0.9)"
        )
        if not args.skip_realistic:
            realistic(args, tmp)
    return 0


def realistic(args: argparse.Namespace, tmp: Path) -> None:
    """Part 3: teacher collection at a hosted API's latency, against the ideal rate."""
    copies = -(-args.realistic_problems // 45)
    items = problems(tmp / "r", copies)[: args.realistic_problems]
    ideal = args.realistic_concurrency / args.realistic_latency
    print(
        f"\n== teacher at realistic latency: {args.realistic_latency * 1000:.0f} ms, "
        f"{args.realistic_concurrency} concurrent, {len(items)} episodes; load average "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    with LoopbackProcess(latency_s=args.realistic_latency, responder="drop_first") as url:
        rps, calls, parent_ms, host_ms = teacher_run(
            url, items, args.realistic_concurrency, args.workers, tmp
        )
    print(f"{'ideal (concurrency / latency)':42s} {ideal:8.1f} req/s")
    print(
        f"{'teacher collection':42s} {rps:8.1f} req/s   {rps / ideal:.2f} of ideal (goal >= 0.9); "
        f"{calls} requests, {parent_ms:.2f} ms CPU/req in the client process + {host_ms:.2f} in episode hosts"
    )


if __name__ == "__main__":
    raise SystemExit(main())
