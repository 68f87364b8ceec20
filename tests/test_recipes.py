"""Recipes: inheritance, phases, overrides, validation with LLaMA-Factory's own parser, launch plans.

Fast: nothing here trains or loads a model (validation must not).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from recipes.errors import RecipeFormatError, RecipeNotFoundError
from recipes.launch import Hardware, plan_launch
from recipes.paths import CONFIGS_DIR, REPO_ROOT
from recipes.recipe import all_recipes, find_recipe, load_recipe, parse_override
from recipes.rundir import RunState, inspect_run_dir
from recipes.yamlio import load_text, parse_scalar
from tests.recipe_helpers import write_dataset_dir

NO_GPU = Hardware(0)
TWO_A800 = Hardware(2, ("NVIDIA A800-SXM4-80GB",) * 2, bf16_gpu=True)
#: Problems that may only depend on the machine (warnings in a dry run).
#: "(environment)": a package the recipe needs on the training machine only (liger-kernel, the `gpu` extra).
MACHINE_KEYS = {"gpus", "bf16", "deepspeed", "model_name_or_path", "NPROC_PER_NODE", "(environment)"}
SHIPPED = {"qwen3_lora_sft", "qwen3_lora_sft_fast", "qwen3_progressive", "qwen25_toolcall_lora", "tiny_cpu_sft", "lora_r8", "lora_r32",
           "lora_r64", "lr_5e-5", "lr_2e-4", "data_teacher", "data_heuristic", "data_oracle", "data_mix",
           "zero2", "full_ft_zero3"}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from recipes.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-qwen3")


@pytest.fixture(scope="module")
def dataset_dir(shared_data, tmp_path_factory) -> Path:
    """Every dataset name a shipped recipe uses, registered (the converters register the real ones)."""
    names = set()
    for path in all_recipes().values():
        for plan in load_recipe(path).phase_plans():
            for key in ("dataset", "eval_dataset"):
                names.update(n.strip() for n in str(plan.args.get(key) or "").split(",") if n.strip())
    return write_dataset_dir(shared_data, tmp_path_factory.mktemp("datasets"), sorted(names))


def check(spec, overrides=(), *, hw=NO_GPU, dry_run=True, **kw):
    from recipes.validate import check_recipe

    return check_recipe(load_recipe(spec, list(overrides)), dry_run=dry_run, hardware=hw, env={}, **kw)


def base_overrides(tmp_path: Path, dataset_dir: Path, tiny: Path | None = None) -> list[str]:
    out = [f"dataset_dir={dataset_dir}", f"output_dir={tmp_path / 'run'}"]
    return out + ([f"model_name_or_path={tiny}"] if tiny else [])


# ---- shipped recipes --------------------------------------------------------------------------

def test_every_shipped_recipe_is_found_recursively_with_a_unique_name():
    files = sorted(CONFIGS_DIR.rglob("*.yaml"))
    names = [f.stem for f in files]
    assert len(names) == len(set(names)), "recipe names (file stems) must be unique across recipes/configs"
    assert SHIPPED <= set(all_recipes())
    assert any(f.parent != CONFIGS_DIR for f in files), "the walk must reach sub-folders"


@pytest.mark.parametrize("path", sorted(CONFIGS_DIR.rglob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_recipe_validates_in_dry_run(path, dataset_dir, tiny, tmp_path, monkeypatch):
    """8B recipes validate here (no GPU, no weights, no network): only machine warnings remain."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # a recipe whose model is built locally (models/...) validates against the tiny model's files
    local = "\nmodel_name_or_path: models/" in path.read_text()
    overrides = base_overrides(tmp_path, dataset_dir, tiny if local else None)
    checked = check(path, overrides)
    assert checked.errors == []
    assert {w.key for w in checked.warnings} <= MACHINE_KEYS
    text = path.read_text()
    assert f"make train RECIPE={path.stem}" in text, "the header gives the exact make command"
    assert checked.recipe.description


def test_8b_recipe_on_its_training_machine_has_only_the_weights_to_fetch(dataset_dir, tmp_path):
    checked = check("qwen3_lora_sft", base_overrides(tmp_path, dataset_dir), hw=TWO_A800, dry_run=False)
    assert [(p.key, p.level) for p in checked.problems] == [("model_name_or_path", "error")]
    assert "hf download Qwen/Qwen3-8B" in str(checked.problems[0])
    assert checked.launch.mode == "torchrun" and checked.launch.nproc_per_node == 2


def test_fast_recipe_passes_llamafactory_parser_where_liger_is_missing(dataset_dir, tmp_path):
    """Without liger-kernel installed the parser stops at that import; every other key must still parse."""
    checked = check("qwen3_lora_sft_fast", [*base_overrides(tmp_path, dataset_dir), "enable_liger_kernel=false"])
    assert checked.errors == []
    assert {w.key for w in checked.warnings} <= MACHINE_KEYS - {"(environment)"}
    args = checked.plans[0].args
    assert args["neat_packing"] and args["disable_gradient_checkpointing"] and args["lora_rank"] == 16


# ---- inheritance ------------------------------------------------------------------------------

def test_inheritance_any_depth_deep_merges_and_resolves_paths_relative_to_the_including_file(tmp_path):
    write(tmp_path / "root.yaml", """
        description: root
        learning_rate: 1.0e-4
        lora_rank: 8
        ray_init_kwargs: {address: auto, runtime_env: {pip: [a], env_vars: {X: "1"}}}
        lora_dropout: 0.1
    """)
    write(tmp_path / "mid" / "mid.yaml", """
        base: ../root.yaml
        lora_rank: 16
        ray_init_kwargs: {runtime_env: {env_vars: {Y: "2"}}}
    """)
    child = write(tmp_path / "mid" / "deeper" / "child.yaml", """
        base: ../mid          # `.yaml` may be left out
        ray_init_kwargs: {runtime_env: {pip: [b]}}
        lora_dropout: null    # back to LLaMA-Factory's default
    """)
    recipe = load_recipe(str(child))
    assert recipe.args["lora_rank"] == 16 and recipe.args["learning_rate"] == 1e-4
    assert recipe.args["ray_init_kwargs"] == {"address": "auto", "runtime_env": {"pip": ["b"],
                                                                               "env_vars": {"X": "1", "Y": "2"}}}
    assert "lora_dropout" not in recipe.args
    assert recipe.description == "root"
    assert [p.name for p in recipe.sources] == ["root.yaml", "mid.yaml", "child.yaml"]
    assert recipe.where("lora_rank").endswith("mid/mid.yaml:2")
    assert recipe.where("learning_rate").endswith("root.yaml:2")


def test_inheritance_cycle_is_an_error_naming_the_cycle(tmp_path):
    write(tmp_path / "a.yaml", "base: b.yaml\nlora_rank: 1\n")
    write(tmp_path / "b.yaml", "base: c.yaml\n")
    write(tmp_path / "c.yaml", "base: a.yaml\n")
    with pytest.raises(RecipeFormatError, match=r"cycle: .*a\.yaml -> .*b\.yaml -> .*c\.yaml -> .*a\.yaml"):
        load_recipe(str(tmp_path / "a.yaml"))


def test_missing_base_names_file_and_line(tmp_path):
    write(tmp_path / "x.yaml", "lora_rank: 1\nbase: nope.yaml\n")
    with pytest.raises(RecipeFormatError, match=r"x\.yaml:2: base 'nope\.yaml' not found"):
        load_recipe(str(tmp_path / "x.yaml"))


def test_unknown_recipe_name_suggests_close_ones():
    with pytest.raises(RecipeNotFoundError, match="did you mean qwen3_lora_sft"):
        find_recipe("qwen3_lora_stf")


# ---- YAML and overrides -----------------------------------------------------------------------

def test_yaml_numbers_and_booleans_mean_what_a_person_means():
    data, lines = load_text("lr: 5e-5\nsave_strategy: no\nbf16: true\nepochs: 3\n")
    assert data == {"lr": 5e-5, "save_strategy": "no", "bf16": True, "epochs": 3}
    assert lines[("epochs",)] == 4
    with pytest.raises(RecipeFormatError, match=r"f\.yaml:3: key 'a' appears twice \(lines 1 and 3\)"):
        load_text("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert parse_scalar("5e-5") == 5e-5 and parse_scalar("[1, 2]") == [1, 2] and parse_scalar("a,b") == "a,b"


@pytest.mark.parametrize("bad", ["learning_rate", "=3", "a b=1", "base=x.yaml"])
def test_bad_override_says_the_expected_form(bad):
    with pytest.raises(RecipeFormatError, match="key=value|base"):
        parse_override(bad)


def test_overrides_apply_to_every_phase_and_win(tmp_path):
    path = write(tmp_path / "p.yaml", """
        learning_rate: 1.0e-4
        finetuning_type: lora
        phases:
          - {name: one, learning_rate: 2.0e-4, num_train_epochs: 1.0}
          - {name: two, num_train_epochs: 2.0}
    """)
    recipe = load_recipe(str(path), ["learning_rate=5e-5", "phases.two.num_train_epochs=7", "gpus=1"])
    one, two = recipe.phase_plans()
    assert one.args["learning_rate"] == two.args["learning_rate"] == 5e-5
    assert (one.args["num_train_epochs"], two.args["num_train_epochs"]) == (1.0, 7)
    assert recipe.gpus == 1
    assert recipe.where("phases", 1, "num_train_epochs") == "--override phases.two.num_train_epochs=7"
    with pytest.raises(RecipeFormatError, match="no phase 'three'"):
        load_recipe(str(path), ["phases.three.learning_rate=1"])


# ---- phases -----------------------------------------------------------------------------------

def test_phases_chain_each_from_the_previous_output_and_resolve_to_a_reloadable_recipe(tmp_path):
    path = write(tmp_path / "prog.yaml", f"""
        model_name_or_path: Qwen/Qwen3-8B
        output_dir: {tmp_path / "runs" / "prog"}
        phases:
          - name: a
          - name: b
          - name: c
            finetuning_type: full
    """)
    recipe = load_recipe(str(path))
    a, b, c = recipe.phase_plans()
    assert a.output_dir == tmp_path / "runs" / "prog" / "a" and "adapter_name_or_path" not in a.args
    assert b.args["adapter_name_or_path"] == str(a.output_dir)  # LoRA: continue training that adapter
    assert c.args["model_name_or_path"] == str(b.output_dir)  # full: start from the previous weights
    assert (b.chained_from, c.chained_from) == ("a", "b")
    resolved = write(tmp_path / "resolved.yaml", __import__("recipes.yamlio").yamlio.dump(recipe.resolved()))
    again = load_recipe(str(resolved)).phase_plans()
    assert [p.args for p in again] == [p.args for p in (a, b, c)]


def test_child_patches_inherited_phases_by_name(tmp_path):
    write(tmp_path / "base.yaml", "phases:\n  - {name: a, learning_rate: 1.0}\n  - {name: b, learning_rate: 2.0}\n")
    child = write(tmp_path / "child.yaml", "base: base.yaml\nphases:\n  b: {learning_rate: 3.0}\n")
    assert [p["learning_rate"] for p in load_recipe(str(child)).phases] == [1.0, 3.0]
    bad = write(tmp_path / "bad.yaml", "base: base.yaml\nphases:\n  z: {learning_rate: 3.0}\n")
    with pytest.raises(RecipeFormatError, match="phases.z: no inherited phase"):
        load_recipe(str(bad))


# ---- validation -------------------------------------------------------------------------------

def test_every_problem_is_reported_at_once_with_key_line_and_fix(tmp_path, dataset_dir, tiny):
    path = write(tmp_path / "broken.yaml", f"""
        base: {CONFIGS_DIR / "tiny_cpu_sft.yaml"}
        learning_rat: 1.0e-3
        lora_rank: sixteen
        template: qwen3_thnk
        dataset: ordebug_trian
        deepspeed: recipes/deepspeed/ds_z9.json
        phases:
          - name: one
            num_train_epochs: many
    """)
    checked = check(str(path), base_overrides(tmp_path, dataset_dir, tiny))
    text = "\n".join(str(p) for p in checked.errors)
    assert "broken.yaml:2: learning_rat: unknown key (got 0.001); fix: did you mean learning_rate?" in text
    assert "broken.yaml:3: lora_rank: expected an integer (got 'sixteen')" in text
    assert "template: unknown template (got 'qwen3_thnk'); fix: did you mean qwen3_think" in text
    assert "dataset 'ordebug_trian' is not registered" in text and "did you mean ordebug_train" in text
    assert "ds_z9.json is missing" in text
    assert "broken.yaml:9: phases.one.num_train_epochs: expected a number (got 'many')" in text
    assert len(checked.errors) >= 6


@pytest.mark.parametrize(("override", "message"), [
    ("learning_rate=-1", "learning_rate: must be a positive number (got -1)"),
    ("learning_rate=0", "learning_rate: must be a positive number (got 0)"),
    ("num_train_epochs=.nan", "num_train_epochs: must be a positive number, not NaN or infinity (got nan)"),
    ("num_train_epochs=.inf", "num_train_epochs: must be a positive number, not NaN or infinity (got inf)"),
    ("max_steps=0", "max_steps: must be a positive integer, or -1 to train num_train_epochs (got 0)"),
    ("save_steps=-5", "save_steps: must be a positive number (got -5)"),
    ("per_device_train_batch_size=0", "per_device_train_batch_size: must be a positive integer (got 0)"),
    ("gradient_accumulation_steps=0", "gradient_accumulation_steps: must be a positive integer (got 0)"),
    ("lora_dropout=1.0", "lora_dropout: must be at least 0 and below 1 (got 1.0)"),
    ("lora_dropout=-0.1", "lora_dropout: must be at least 0 and below 1 (got -0.1)"),
    ("cutoff_len=0", "cutoff_len: must be a positive integer (got 0)"),
    ("max_grad_norm=.nan", "max_grad_norm: must be a finite number, not NaN or infinity (got nan)"),
])
def test_values_out_of_range_fail_the_dry_run_naming_key_value_and_fix(override, message, tmp_path, dataset_dir, tiny):
    checked = check("tiny_cpu_sft", [*base_overrides(tmp_path, dataset_dir, tiny), override])
    texts = [str(p) for p in checked.errors]
    assert any(t.startswith(f"--override {override}: {message}; fix: ") for t in texts), texts


def test_out_of_range_values_are_gathered_with_the_other_problems(tmp_path, dataset_dir, tiny):
    """The issue's repro (`learning_rate=-1 num_train_epochs=.nan` said "dry run OK"), with a misspelt key."""
    out = subprocess.run(
        [sys.executable, "-m", "recipes.train", "--recipe", "tiny_cpu_sft", "--dry-run", "--override",
         *base_overrides(tmp_path, dataset_dir, tiny), "learning_rate=-1", "num_train_epochs=.nan", "lerning_rate=1"],
        check=False, capture_output=True, text=True, cwd=REPO_ROOT)
    assert out.returncode == 2 and "dry run OK" not in out.stdout
    assert "has 3 problems" in out.stderr, out.stderr
    assert "learning_rate: must be a positive number (got -1); fix: learning_rate: 1.0e-4" in out.stderr
    assert "num_train_epochs: must be a positive number, not NaN or infinity (got nan)" in out.stderr
    # in range: the edges that are allowed
    ok = check("tiny_cpu_sft", [*base_overrides(tmp_path, dataset_dir, tiny), "max_steps=-1", "lora_dropout=0",
                                "warmup_steps=0", "save_steps=0.25"])
    assert ok.errors == []


def test_llamafactory_cross_key_rules_and_do_train(tmp_path, dataset_dir, tiny):
    checked = check("tiny_cpu_sft", [*base_overrides(tmp_path, dataset_dir, tiny), "do_train=false",
                                     "eval_strategy=steps", "eval_dataset=null"])
    messages = [str(p) for p in checked.errors]
    assert any("do_train: not set" in m for m in messages)
    assert any("LLaMA-Factory refuses" in m and "eval_dataset" in m for m in messages)


def test_credentials_are_refused_and_never_echoed(tmp_path, dataset_dir, tiny):
    checked = check("tiny_cpu_sft", [*base_overrides(tmp_path, dataset_dir, tiny), "hf_hub_token=hf_SECRET123"])
    text = "\n".join(str(p) for p in checked.errors)
    assert "hf_hub_token: credentials are never written" in text and "HF_TOKEN" in text
    assert "SECRET123" not in text


def test_string_numbers_are_coerced_before_llamafactory_sees_them(tmp_path, dataset_dir, tiny):
    checked = check("tiny_cpu_sft", [*base_overrides(tmp_path, dataset_dir, tiny), "learning_rate='5e-5'"])
    assert checked.errors == []
    assert checked.plans[0].args["learning_rate"] == 5e-5


def test_missing_local_model_says_how_to_build_it(tmp_path, dataset_dir):
    checked = check("tiny_cpu_sft", [*base_overrides(tmp_path, dataset_dir),
                                     f"model_name_or_path={tmp_path / 'models' / 'tiny-qwen3'}"])
    assert any(p.key == "model_name_or_path" and "make tiny-model" in p.fix for p in checked.errors)


def test_machine_problems_are_warnings_in_dry_run_and_errors_at_launch(tmp_path, dataset_dir):
    overrides = base_overrides(tmp_path, dataset_dir)
    dry = check("zero2", overrides, hw=NO_GPU, dry_run=True)
    launch = check("zero2", overrides, hw=Hardware(1, ("T4",), bf16_gpu=False), dry_run=False)
    assert dry.errors == [] and {"gpus", "bf16", "deepspeed"} <= {w.key for w in dry.warnings}
    assert {"gpus", "bf16", "deepspeed"} <= {e.key for e in launch.errors}
    assert "does not support bf16" in " ".join(str(e) for e in launch.errors)


def test_run_directory_policy(tmp_path, dataset_dir, tiny):
    overrides = base_overrides(tmp_path, dataset_dir, tiny)
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("someone else's")
    assert "holds no manifest.json" in str(check("tiny_cpu_sft", overrides).errors[0])
    (run / "notes.txt").unlink()
    (run / "checkpoint-20").mkdir()
    (run / "manifest.json").write_text(json.dumps({"status": "failed", "phases": []}))
    assert inspect_run_dir(run).state == RunState.UNFINISHED
    assert "(RESUME=1) continues it" in str(check("tiny_cpu_sft", overrides).errors[0])
    assert check("tiny_cpu_sft", overrides, resume=True).errors == []
    from recipes.runner import resolved_text

    (run / "recipe.resolved.yaml").write_text(resolved_text(load_recipe("tiny_cpu_sft", overrides), "test"))
    assert check("tiny_cpu_sft", overrides, resume=True).errors == []
    changed = check("tiny_cpu_sft", [*overrides, "learning_rate=0.5"], resume=True).errors
    assert "differs from the one this run started with (changed: learning_rate" in str(changed[0])
    (run / "manifest.json").write_text(json.dumps({"status": "finished", "ended_at": "2026-01-01", "phases": []}))
    errors = check("tiny_cpu_sft", overrides, resume=True).errors
    assert "finished run is already here" in str(errors[0]) and "OVERWRITE=1" in str(errors[0])
    assert check("tiny_cpu_sft", overrides, overwrite=True).errors == []
    assert "use just one" in str(check("tiny_cpu_sft", overrides, resume=True, overwrite=True).errors[0])


# ---- launch plans -----------------------------------------------------------------------------

def test_launch_plan_honours_llamafactory_launch_variables(tmp_path):
    cpu = {"use_cpu": True}
    assert plan_launch(cpu, 0, NO_GPU, {}).mode == "in_process"
    forced = plan_launch(cpu, 0, NO_GPU, {"FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "2"})
    assert (forced.mode, forced.nproc_per_node) == ("torchrun", 2)
    multi = plan_launch({}, 2, TWO_A800, {"NNODES": "2", "NODE_RANK": "1", "MASTER_ADDR": "10.0.0.1",
                                          "MASTER_PORT": "6000"})
    argv = multi.argv(tmp_path / "args.yaml")
    assert argv[1:3] == ["-m", "recipes._torchrun"]  # torchrun, recording which rank failed
    for flag, value in (("--nnodes", "2"), ("--node_rank", "1"), ("--nproc_per_node", "2"),
                        ("--master_addr", "10.0.0.1"), ("--master_port", "6000")):
        assert argv[argv.index(flag) + 1] == value
    assert argv[-3:] == ["-m", "recipes._entry", str(tmp_path / "args.yaml")], "every rank runs our entry module"
    assert plan_launch({"deepspeed": "x.json"}, 1, Hardware(1, ("A",), True), {}).mode == "torchrun"
    assert plan_launch({}, 1, TWO_A800, {}).mode == "torchrun"  # never DataParallel in one process


def test_a_dead_rank_is_named_not_the_ranks_torchrun_stopped_because_of_it():
    """torchrun lists rank 0, which its agent stopped with SIGTERM, beside rank 1, which the OOM killer took,
    often with the same whole-second timestamp: the message must name rank 1."""
    from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

    from recipes._torchrun import failures_json
    from recipes.launch import rank_failure_message

    stopped, killed = ProcessFailure(0, 100, -15, ""), ProcessFailure(1, 101, -9, "")
    stopped.timestamp = killed.timestamp = 1_700_000_000
    message = rank_failure_message(failures_json({0: stopped, 1: killed}))
    assert message == "rank 1 was killed (out of memory?) by SIGKILL; torchrun stopped the other ranks"
    crashed = ProcessFailure(1, 102, 1, "")
    assert rank_failure_message(failures_json({1: crashed})).startswith("rank 1 failed with exit code 1")


# ---- CLIs -------------------------------------------------------------------------------------

@pytest.mark.parametrize("module", ["recipes.train", "recipes.export", "recipes.tiny_model", "recipes.template"])
def test_every_cli_has_help(module):
    out = subprocess.run([sys.executable, "-m", module, "--help"], check=False, capture_output=True, text=True, cwd=REPO_ROOT)
    assert out.returncode == 0 and "usage:" in out.stdout


def test_misspelt_key_fails_before_anything_loads_naming_it(tmp_path, dataset_dir, tiny):
    """The user-visible path: `make train ... DRY_RUN=1` exits 2 with one line per problem."""
    out = subprocess.run(
        [sys.executable, "-m", "recipes.train", "--recipe", "tiny_cpu_sft",
         "--override", *base_overrides(tmp_path, dataset_dir, tiny), "lerning_rate=1e-3"],
        check=False, capture_output=True, text=True, cwd=REPO_ROOT)
    assert out.returncode == 2
    assert "--override lerning_rate=1e-3: lerning_rate: unknown key (got 0.001); fix: did you mean learning_rate?" \
        in out.stderr
    assert not (tmp_path / "run").exists(), "nothing is created for a recipe that does not validate"


HEAVY = ("torch", "transformers", "llamafactory", "datasets", "peft")


def test_wrong_key_type_or_value_is_rejected_before_torch_transformers_or_llamafactory_load(tmp_path, dataset_dir,
                                                                                           tiny):
    """Rejecting a typo took 8-9 s, nearly all of it importing them; the keys come from recipes/lf_schema.json."""
    code = textwrap.dedent(f"""
        import sys
        from recipes.train import main
        rc = main(["--recipe", "tiny_cpu_sft", "--dry-run", "--override", *{base_overrides(tmp_path, dataset_dir,
                                                                                          tiny)!r},
                   "lerning_rate=1e-3", "lora_rank=sixteen", "cutoff_len=0", "template=qwen3_thnk"])
        print("LOADED", sorted(m for m in {HEAVY!r} if m in sys.modules))
        raise SystemExit(rc)
    """)
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=REPO_ROOT)
    assert out.returncode == 2, out.stderr
    assert "LOADED []" in out.stdout, out.stdout
    for expected in ("lerning_rate: unknown key (got 0.001); fix: did you mean learning_rate?",
                     "lora_rank: expected an integer (got 'sixteen')", "cutoff_len: must be a positive integer",
                     "template: unknown template (got 'qwen3_thnk'); fix: did you mean qwen3_think"):
        assert expected in out.stderr


def test_saved_llamafactory_schema_matches_the_installed_llamafactory():
    """The fast check reads recipes/lf_schema.json; after an upgrade, `python -m recipes.schema_snapshot`."""
    from recipes import schema_snapshot

    saved = json.loads(schema_snapshot.SNAPSHOT.read_text())
    assert saved == json.loads(schema_snapshot.dumps(schema_snapshot.build())), \
        "recipes/lf_schema.json is stale: run `python -m recipes.schema_snapshot`"
    assert {"learning_rate", "lora_rank", "cutoff_len", "deepspeed"} <= set(saved["fields"])
    assert saved["fields"]["lora_rank"]["type"] == "int" and "qwen3" in saved["templates"]
    live = schema_snapshot.live_fields()
    loaded = schema_snapshot.load()
    assert loaded is not None and set(loaded) == set(live)


def test_dry_run_prints_the_resolved_recipe_and_exact_command(tmp_path, dataset_dir, tiny):
    out = subprocess.run(
        [sys.executable, "-m", "recipes.train", "--recipe", "tiny_cpu_sft", "--dry-run",
         "--override", *base_overrides(tmp_path, dataset_dir, tiny), "learning_rate=5e-3"],
        check=False, capture_output=True, text=True, cwd=REPO_ROOT, env={**__import__("os").environ, "FORCE_TORCHRUN": "1",
                                                           "NPROC_PER_NODE": "2"})
    assert out.returncode == 0, out.stderr
    assert "learning_rate: 0.005" in out.stdout and f"output_dir: {tmp_path / 'run'}" in out.stdout
    assert "-m recipes._torchrun --nnodes 1 --node_rank 0 --nproc_per_node 2" in out.stdout
    assert "-m recipes._entry" in out.stdout and "dry run OK" in out.stdout
    assert not (tmp_path / "run").exists()


# ---- the tiny model ---------------------------------------------------------------------------

def test_tiny_model_is_qwen3_with_the_real_tokenizer_and_deterministic(tiny, tmp_path):
    from transformers import AutoConfig, AutoTokenizer

    from recipes.paths import qwen3_tokenizer_dir
    from recipes.tiny_model import build_tiny_model

    config = AutoConfig.from_pretrained(tiny)
    assert (config.model_type, config.hidden_size, config.num_hidden_layers) == ("qwen3", 64, 2)
    assert (config.num_attention_heads, config.num_key_value_heads, config.head_dim) == (4, 2, 16)
    assert AutoTokenizer.from_pretrained(tiny).get_vocab() == AutoTokenizer.from_pretrained(
        qwen3_tokenizer_dir()).get_vocab()
    weights = (tiny / "model.safetensors").stat().st_mtime_ns
    assert build_tiny_model(tiny) == tiny and (tiny / "model.safetensors").stat().st_mtime_ns == weights  # reused
    again = build_tiny_model(tmp_path / "again")
    assert (again / "model.safetensors").read_bytes() == (tiny / "model.safetensors").read_bytes()


def test_logits_on_labels_only_is_checked_and_reaches_the_training_command(tmp_path, dataset_dir, tiny):
    from recipes.runner import phase_command

    checked = check("tiny_cpu_sft", [*base_overrides(tmp_path, dataset_dir, tiny), "logits_on_labels_only=true"])
    assert not checked.errors
    assert checked.recipe.resolved()["logits_on_labels_only"] is True
    command = phase_command(checked.plans[0], checked.launch, checked.recipe)
    assert "ORDEBUG_LOGITS_ON_LABELS_ONLY=1" in command
    assert "ORDEBUG_LOGITS_ON_LABELS_ONLY" not in phase_command(
        checked.plans[0], checked.launch, check("tiny_cpu_sft", base_overrides(tmp_path, dataset_dir, tiny)).recipe)

    liger = check("tiny_cpu_sft", [*base_overrides(tmp_path, dataset_dir, tiny), "logits_on_labels_only=true",
                                   "enable_liger_kernel=true"])
    assert any(p.key == "logits_on_labels_only" and "enable_liger_kernel" in str(p) for p in liger.errors)
    typo = check("tiny_cpu_sft", [*base_overrides(tmp_path, dataset_dir, tiny), "logits_on_labels_only=yes please"])
    assert any(p.key == "logits_on_labels_only" and "true or false" in str(p) for p in typo.errors)


def test_overwrite_deletes_only_a_run_directory_of_ours(tmp_path, dataset_dir, tiny):
    """`--overwrite` once deleted data/ (issue 23, probe 3); the dry run accepted `output_dir=.` too."""
    overrides = base_overrides(tmp_path, dataset_dir, tiny)
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("someone else's")
    for output_dir in (foreign, REPO_ROOT, REPO_ROOT / "data", REPO_ROOT / "recipes", REPO_ROOT.parent):
        for dry_run in (True, False):
            errors = check("tiny_cpu_sft", [*overrides, f"output_dir={output_dir}"], overwrite=True,
                           dry_run=dry_run).errors
            assert [e.key for e in errors if e.key == "output_dir"] == ["output_dir"], (output_dir, dry_run)
            assert "--overwrite" in str(errors[0]) and "runs/NEW_NAME" in str(errors[0])
    assert (foreign / "notes.txt").exists()


def test_overwrite_dry_run_refuses_the_repository_and_its_top_level_folders():
    # a dry run only: a failing guard must not be able to delete the working tree
    for output_dir in (".", "data"):
        done = subprocess.run([sys.executable, "-m", "recipes.train", "--recipe", "tiny_cpu_sft", "--override",
                               "max_steps=1", f"output_dir={output_dir}", "--overwrite", "--dry-run"],
                              cwd=REPO_ROOT, capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
        assert done.returncode == 2 and "never deletes it" in done.stderr, (output_dir, done.stdout, done.stderr)


# ---- missing or wrong-kind datasets (issue 23, probe 5) -----------------------------------------

@pytest.fixture()
def legm_only(shared_data, tmp_path) -> Path:
    """A dataset_dir holding one OR-Debug dataset, legm_train/_val, and nothing a shipped recipe names."""
    return write_dataset_dir(shared_data, tmp_path / "ds", ["legm_train", "legm_val"])


@pytest.mark.parametrize(("recipe", "names_fix"), [
    ("qwen25_toolcall_lora", "make convert-traces IN=DIR"),
    ("qwen3_progressive", "converters.search_traces --in FILE --name search"),
    ("data_oracle", "make collect AGENT=oracle"),
    ("data_mix", "make collect AGENT=teacher"),
])
def test_a_missing_dataset_names_the_converter_that_makes_it(legm_only, tmp_path, recipe, names_fix):
    errors = check(recipe, base_overrides(tmp_path, legm_only)).errors
    missing = [str(e) for e in errors if "is not registered" in str(e)]
    assert missing and all("legm" not in m and "make convert NAME=" not in m for m in missing), missing
    assert names_fix in missing[0], missing[0]


def test_an_alpaca_dataset_under_a_tool_call_name_fails_validation(shared_data, tmp_path):
    # what following the old hint did: `make convert NAME=tool_calls` registered OR-Debug Alpaca rows
    alpaca = write_dataset_dir(shared_data, tmp_path / "ds", [])
    info_file = alpaca / "dataset_info.json"
    info = json.loads(info_file.read_text())
    info["tool_calls_train"] = info["tool_calls_val"] = info["ordebug_train"]
    info_file.write_text(json.dumps(info))
    errors = [str(e) for e in check("qwen25_toolcall_lora", base_overrides(tmp_path, alpaca)).errors]
    assert any("holds Alpaca rows" in e and "make convert-traces" in e for e in errors), errors
