"""DIR/REPORT.md of `python -m demo`: the honest headline, read from the results.json files.

Every number in the report comes from a file the demo's steps wrote (the evaluations'
``results.json``, the dataset card, the run manifest, the tiny model's stamp); nothing is typed in.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from eval.metric_registry import get, view
from eval.run_dir import repo_root
from foundation.atomic import write_atomic
from foundation.errors import ToolkitError
from foundation.tables import markdown_table
from foundation.yaml_mapping import read_yaml_mapping

#: The evaluations the demo runs (folder names under DIR/eval), in table order.
#: an action with a name argument: RELAX_CONSTRAINT(c, 2), UPDATE_BOUNDS(x, 0, 1), WHATIF_DROP(c), ...
NAMED_ACTION = re.compile(r"^[A-Z_]+\(\s*[A-Za-z_]")
EVALUATIONS = ("untrained", "trained", "heuristic", "drop_first", "oracle")
WHAT = {
    "untrained": "tiny model before fine-tuning (random weights)",
    "trained": "tiny model after fine-tuning (demo_cpu_sft)",
    "heuristic": "baseline: the heuristic agent (collected, not trained on; see docs/demo.md)",
    "drop_first": "baseline: the legacy teacher (drop the first IIS constraint)",
    "oracle": "baseline: minimal repair by feasRelax (privileged: reads the model)",
}
#: (results.json summary key, column title) of the headline table, in order.
HEADLINE = tuple((key, get(key).title) for key in view("demo_headline"))


def shown(path: Path) -> str:
    """A path as a user would type it from the repository root."""
    try:
        return str(path.relative_to(repo_root()))
    except ValueError:
        return str(path)


def fmt(value: Any) -> str:
    """The one number format of REPORT.md (tests parse it back)."""
    return "—" if value is None else f"{value:.3f}"


def load_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def load_results(out: Path) -> dict[str, dict[str, Any]]:
    return {name: load_json(out / "eval" / name / "results.json") for name in EVALUATIONS}


def _rr_note(max_steps: int) -> str:
    if max_steps <= 5:
        return f" (so RR@5, RR@10 and RR@20 all count recovery within {max_steps} steps)"
    return ""


def _num(value: Any, digits: int) -> str:
    return "?" if not isinstance(value, (int, float)) else f"{value:.{digits}f}"


#: Per-step format facts of eval/format_metrics.py, shown before vs after fine-tuning.
FORMAT_FACTS = view("demo_format")


def format_table(results: dict[str, dict[str, Any]]) -> list[str]:
    rows = []
    for name in ("untrained", "trained"):
        s = results[name].get("summary") or {}
        rows.append([name, *(fmt(s.get(k)) for k in FORMAT_FACTS)])
    header = ["tiny model", *(f"`{k}`" for k in FORMAT_FACTS)]
    return markdown_table(header, rows, align="l" + "r" * len(FORMAT_FACTS))


def _change(before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return f"{fmt(before)} → {fmt(after)}"
    if after > before:
        return f"rose from {fmt(before)} to {fmt(after)}"
    if after < before:
        return f"fell from {fmt(before)} to {fmt(after)}"
    return f"stayed at {fmt(before)}"


def headline_table(results: dict[str, dict[str, Any]]) -> list[str]:
    rows = []
    for name in EVALUATIONS:
        s = results[name].get("summary") or {}
        cells = [fmt(s.get(key)) for key, _ in HEADLINE]
        rows.append([name, WHAT[name], *cells, s.get("n", "—"), s.get("n_steps", "—")])
    header = ["evaluation", "what it is", *(t for _, t in HEADLINE), "episodes", "steps"]
    return markdown_table(header, rows, align="ll" + "r" * (len(HEADLINE) + 2))


def headline_plot(results: dict[str, dict[str, Any]], path: Path) -> Path:
    """Left: format compliance before vs after fine-tuning; right: repair quality of every policy."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1, 2.2]})
    fmt_keys = ("format_ok", "invalid_action_rate")
    for j, name in enumerate(("untrained", "trained")):
        s, ci = results[name].get("summary") or {}, results[name].get("ci") or {}
        xs = [i + (j - 0.5) * 0.38 for i in range(len(fmt_keys))]
        vals = [s.get(k) or 0.0 for k in fmt_keys]
        err = [
            [max(0.0, v - (ci.get(k) or [v, v])[0]) for k, v in zip(fmt_keys, vals, strict=True)],
            [max(0.0, (ci.get(k) or [v, v])[1] - v) for k, v in zip(fmt_keys, vals, strict=True)],
        ]
        left.bar(xs, vals, 0.38, yerr=err, capsize=3, label=name)
    left.set_xticks(range(len(fmt_keys)), ["format_ok ↑", "invalid actions ↓"])
    left.set_ylim(0, 1.2)
    left.set_title("tiny model: format on held-out problems")
    left.legend(loc="upper left")
    quality = ("rr@5", "op", "fp", "da_iis", "da_target")
    width = 0.8 / len(EVALUATIONS)
    for j, name in enumerate(EVALUATIONS):
        s = results[name].get("summary") or {}
        xs = [i + (j - (len(EVALUATIONS) - 1) / 2) * width for i in range(len(quality))]
        right.bar(xs, [s.get(k) or 0.0 for k in quality], width, label=name)
    right.set_xticks(range(len(quality)), ["RR@5", "OP", "FP", "DA-IIS", "DA-target"])
    right.set_ylim(0, 1.2)  # headroom for the legend above the bars
    right.set_title("repair quality (mean over held-out episodes; ↑ better)")
    right.legend(fontsize=8, ncol=len(EVALUATIONS), loc="upper center")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _capped(result: dict[str, Any], who: str) -> str:
    """How many of a model's answers ran into the token cap (from the policy's own token counts)."""
    policy = (result.get("config") or {}).get("policy") or {}
    tokens, calls = policy.get("tokens") or {}, policy.get("calls")
    if not calls:
        return ""
    return (
        f"{who}, {tokens.get('truncated', 0)} of its {calls} answers ran into the token cap "
        f"({tokens.get('completion', 0) / calls:.0f} new tokens per answer on average)."
    )


def _names(result: dict[str, Any]) -> str:
    """How many of a model's actions that name a constraint or variable named one the problem has."""
    named = [
        (s.get("format") or {}).get("args_valid")
        for e in result.get("episodes") or []
        for s in e.get("steps") or []
        if NAMED_ACTION.match(s.get("action") or "")
    ]
    if not named:
        return ""
    return (
        f"Of its {len(named)} actions that name a constraint or variable, {sum(v is True for v in named)} "
        "name one the problem has: the names must be copied from the prompt, which a random model does not "
        "learn in minutes (the shape of the answer it does)."
    )


def _training_facts(out: Path) -> dict[str, Any]:
    card = load_json(out / "data" / "ordebug" / "card.json")
    manifest = load_json(out / "runs" / "tiny" / "manifest.json")
    phases = manifest.get("phases") or [{}]
    splits = card.get("splits") or {}
    metrics = manifest.get("metrics") or phases[-1].get("metrics") or {}
    state = load_json(out / "runs" / "tiny" / "trainer_state.json")
    try:
        recipe = read_yaml_mapping(out / "runs" / "tiny" / "recipe.resolved.yaml")
    except ToolkitError:  # a report of a run that stopped early: no recipe
        recipe = {}
    return {
        "splits": {
            k: (v.get("samples"), v.get("problems")) for k, v in splits.items() if isinstance(v, dict)
        },
        "loss_first": phases[0].get("loss_first"),
        "loss_last": phases[-1].get("loss_last"),
        "train_steps": state.get("global_step"),
        "batch": recipe.get("per_device_train_batch_size"),
        "epochs": metrics.get("epoch"),
        "model": recipe.get("model_name_or_path"),
        "grounding": grounding_line(card),
    }


def _share(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) else "?"


def grounding_line(card: dict[str, Any]) -> str:
    """The dataset card's grounding summary in one line (cards written before the grounding check
    have no `grounding` section, and the line says so rather than guessing)."""
    g = card.get("grounding")
    if not isinstance(g, dict):
        return "grounding: not reported by this card"
    line = (
        f"grounding: numbers {_share(g.get('numbers_grounded_share'))} "
        f"({g.get('numbers_grounded', '?')}/{g.get('numbers_total', '?')}), samples fully grounded "
        f"{_share(g.get('samples_grounded_share'))} ({g.get('samples_grounded', '?')}/{g.get('samples_total', '?')})"
    )
    if g.get("warning"):
        line += f"; warning: {g['warning']}"
    return line


def _model_facts(model: str | None) -> tuple[str, str]:
    """Size and shape of the model the run trained (its recipe's model_name_or_path)."""
    stamp = load_json(repo_root() / (model or "models/tiny-qwen3") / "tiny_model.json")
    cfg = stamp.get("config") or {}
    params = stamp.get("parameters")
    size = f"{params / 1e6:.1f}M-parameter" if params else "tiny"
    shape = f"{cfg.get('num_hidden_layers', '?')} layers, width {cfg.get('hidden_size', '?')}"
    return size, shape


def _bench_facts(out: Path) -> tuple[int | None, list[str]]:
    bench = load_json(out / "bench" / "dataset.json")
    return bench.get("num_problems"), list(bench.get("error_types") or [])


def write_demo_report(
    out: Path, *, size: dict[str, Any], quick: bool, timings: list[tuple[str, float]]
) -> Path:
    """Write DIR/REPORT.md and DIR/headline.png from the evaluations' results.json; return the report path."""
    results = load_results(out)
    missing = [n for n, r in results.items() if not r.get("summary")]
    before = results["untrained"].get("summary") or {}
    after = results["trained"].get("summary") or {}
    facts = _training_facts(out)
    model_size, model_shape = _model_facts(facts["model"])
    n_bench, types = _bench_facts(out)
    n_test = after.get("n")
    plot = headline_plot(results, out / "headline.png")

    lines = ["# OR-Debug SFT demo", ""]
    if quick:
        lines += ["> **Quick run** (`--quick`): a smoke test of the chain; its numbers mean nothing.", ""]
    if missing:
        lines += [f"> Missing evaluations: {', '.join(missing)} (their rows are empty).", ""]
    lines += [
        (
            f"**Headline.** On {n_test} held-out test problems (no step of them was in training), format compliance "
            f"(`format_ok`: a balanced, non-empty `<think>…</think>`, then exactly one strict `Action:` line whose "
            f"names exist in the model) of the tiny model {_change(before.get('format_ok'), after.get('format_ok'))} "
            f"after fine-tuning, and the share of its steps the environment rejected "
            f"(`invalid_action_rate`) {_change(before.get('invalid_action_rate'), after.get('invalid_action_rate'))}. "
            f"By part, after fine-tuning: `<think>` opened in {fmt(after.get('think_present'))} of its steps, "
            f"closed exactly once in {fmt(after.get('think_balanced'))}, one strict `Action:` line in "
            f"{fmt(after.get('action_strict'))} (before: {fmt(before.get('think_present'))}, "
            f"{fmt(before.get('think_balanced'))}, {fmt(before.get('action_strict'))}). "
            "Beside them, the baselines' repair quality on the same problems:"
        ),
        "",
        *headline_table(results),
        "",
        f"![headline]({plot.name})",
        "",
        "Each part of the answer format, per step (share of steps; `args_valid` over steps with an action):",
        "",
        *format_table(results),
        "",
        "## What a tiny random model can and cannot show",
        "",
        (
            f"The model is a {model_size} Qwen3-architecture network ({model_shape}) that starts from random "
            f"weights and trains on the CPU for {facts['train_steps'] or '?'} steps of {facts['batch'] or '?'} "
            f"samples ({_num(facts['epochs'], 1)} epochs; training loss {fmt(facts['loss_first'])} → "
            f"{fmt(facts['loss_last'])})."
        ),
        "",
        (
            "- **It can show** that the chain holds together: the samples, the `qwen3_think` template, the loss on "
            "the assistant turns and the evaluation prompt agree, so that fine-tuning can move the answer *format* "
            "on problems the model never saw, measured in the real solver (the headline says whether it did). "
            f"{_capped(results['untrained'], 'Before fine-tuning')} {_capped(results['trained'], 'After it')} "
            f"{_names(results['trained'])}"
        ),
        (
            "- **It cannot show** debugging skill. A model this small, trained this briefly, copies the shape of "
            "an answer, not the reasoning behind it; its RR/OP/FP/DA say nothing about what Qwen3-8B learns "
            "from the same data (`make train RECIPE=qwen3_lora_sft` on GPUs, then `make eval RUN=…`)."
        ),
        (
            "- **The baselines are the yardstick** for the metrics: recovery alone saturates (dropping IIS "
            "members always restores feasibility), so OP (objective kept), FP (constraints kept) and DA "
            "(blamed the right constraints) are what separate a good repair from a bad one. The oracle is "
            "privileged (it reads the model and repairs by `feasRelax`), so it is a ceiling, not a competitor."
        ),
        (
            f"- Every evaluation used the same {size['max_steps']}-step episodes"
            f"{_rr_note(size['max_steps'])}; the two model "
            f"evaluations cap each answer at {size['max_new_tokens']} new tokens and decode greedily."
        ),
        "",
        "## Setup",
        "",
        (
            f"- Benchmark: {n_bench} generated problems of error types {', '.join(types) or '?'} "
            f"(`{_rel(out, 'bench')}`)."
        ),
        (
            "- Trajectories: the heuristic and oracle agents (`trajectories/`), converted to Alpaca samples with "
            "problem-grouped splits (`data/ordebug/`, registered in this folder's own `dataset_info.json`):"
        ),
    ]
    for split, (samples, problems) in facts["splits"].items():
        lines.append(f"  - {split}: {samples} samples from {problems} problems")
    lines += [
        f"- Dataset card (`{_rel(out, 'data/ordebug/card.json')}`): {facts['grounding']}.",
        (
            f"- Held-out problems: the test split, copied to `{_rel(out, 'heldout')}` so every policy plays exactly "
            "the same ones."
        ),
        f"- Run: `{_rel(out, 'runs/tiny')}` (resolved recipe, manifest, weights).",
        "",
        "## Reports",
        "",
        (
            "- All evaluations in one table: [eval/summary.md](eval/summary.md) (`python -m eval.report`; CSV "
            "beside it)."
        ),
    ]
    for name in EVALUATIONS:
        lines.append(f"- {name}: [eval/{name}/report.md](eval/{name}/report.md) — {WHAT[name]}")
    if (out / "eval" / "trained" / "loss_curve.png").is_file():
        lines += ["", "Training loss:", "", "![training loss](eval/trained/loss_curve.png)"]
    rows = [*((title, f"{secs:.0f}") for title, secs in timings), ("total", f"{sum(s for _, s in timings):.0f}")]
    lines += ["", "## Time", "", *markdown_table(["step", "seconds"], rows, align="lr"), ""]
    path = out / "REPORT.md"
    write_atomic(path, "\n".join(lines))
    return path


def _rel(out: Path, sub: str) -> str:
    return shown(out / sub)
