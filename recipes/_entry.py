"""What every training process runs: register `qwen3_think`, then LLaMA-Factory's run_exp.

With ORDEBUG_LOGITS_ON_LABELS_ONLY=1 (the launcher sets it for a recipe with
`logits_on_labels_only: true`) the SFT model computes its LM head only at labelled positions
(recipes/labelled_logits.py). With ORDEBUG_MAX_TRAIN_SECONDS=S (a recipe with `max_train_seconds`)
training stops at the first step past S seconds (recipes/time_budget.py).

    python -m recipes._entry runs/<name>/llamafactory_args.yaml

The launcher runs this module under torchrun (one copy per rank), so every rank has the
template, which a template registered only in the launching process would not be.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
from pathlib import Path
from typing import Any

from foundation.atomic import share_private_files
from recipes.yamlio import load_file

#: `<output_dir>/peak_rss.rank<N>.json`: each rank's peak RSS, gathered into the manifest.
PEAK_RSS_PREFIX = "peak_rss.rank"
#: Set to 1 by the launcher for a recipe with `logits_on_labels_only: true`.
LOGITS_ON_LABELS_ENV = "ORDEBUG_LOGITS_ON_LABELS_ONLY"
#: Set to S by the launcher for a recipe with `max_train_seconds: S` (recipes/time_budget.py).
MAX_TRAIN_SECONDS_ENV = "ORDEBUG_MAX_TRAIN_SECONDS"


def train(args: dict[str, Any]) -> None:
    """Train one phase in this process with the exact LLaMA-Factory arguments given."""
    from recipes.template import register

    register()
    from llamafactory.train.tuner import run_exp

    from recipes.labelled_logits import installed
    from recipes.time_budget import budget_callbacks

    on_labels = installed() if os.environ.get(LOGITS_ON_LABELS_ENV) == "1" else contextlib.nullcontext()
    output_dir = Path(str(args["output_dir"]))
    try:
        with on_labels:
            run_exp(dict(args), callbacks=[_umask_modes_callback(), *budget_callbacks(os.environ.get(MAX_TRAIN_SECONDS_ENV))])
    finally:
        share_private_files(output_dir)  # the final save (the callback sees checkpoints only)
        record_peak_rss(output_dir)


def _umask_modes_callback() -> Any:
    """A TrainerCallback that gives each saved checkpoint the umask's file mode (safetensors writes 0600)."""
    from transformers import TrainerCallback

    class UmaskModes(TrainerCallback):
        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.is_world_process_zero:
                share_private_files(Path(args.output_dir))

    return UmaskModes()


def record_peak_rss(output_dir: Path) -> None:
    """This process's peak resident memory, one small file per rank, for the run's manifest."""
    rank = int(os.environ.get("RANK", "0"))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / f"{PEAK_RSS_PREFIX}{rank}.json").write_text(json.dumps({"rank": rank, "peak_rss_mib": round(peak_mib)}))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    args, _ = load_file(Path(argv[0]))
    train(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
