# OR-Debug SFT — every user-facing command. `make help` lists them.
# Optional variables are passed on only when set, so each CLI's own defaults apply.
# (LANG is taken only from the command line: the environment's LANG is the shell locale.)
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# opt: one argument, quoted for bash (OUT="dir with space/x.jsonl" stays one path, a ' inside included);
# opts: a list, one argument per word (PROBLEMS="setA setB"); flag: the option when the variable is 1/true/yes.
quote = '$(subst ','\'',$(1))'
opt = $(if $(strip $($(1))),$(2) $(call quote,$($(1))))
opts = $(if $(strip $($(1))),$(2) $($(1)))
flag = $(if $(filter 1 true yes,$($(1))),$(2))

.PHONY: help setup test test-fast lint bench generate collect summarize convert convert-traces \
        convert-search presample tiny-model train export rl-data rl eval report study demo clean

help: ## list every target with one line each
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -e '.[train,dev]'
	touch $(STAMP)

setup: $(STAMP) ## build .venv with everything (core, train, dev extras)

test: $(STAMP) ## run the whole test suite (builds .venv first when missing)
	$(PY) -m pytest -q

test-fast: $(STAMP) ## run the suite without the slow CPU-training tests
	$(PY) -m pytest -q -m "not slow"

lint: $(STAMP) ## ruff over the project
	$(VENV)/bin/ruff check .

bench: $(STAMP) ## run every speed benchmark in benchmarks/ (prints ratios against a baseline)
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

# ---- ordebug: the benchmark world ----
generate: $(STAMP) ## generate a benchmark set: OUT=DIR [N=200] [SEED=0] [TYPES=A,B,C,D] [OVERWRITE=1]
	$(PY) -m ordebug.generate $(call opt,OUT,--out) $(call opt,N,--n) $(call opt,SEED,--seed) $(call opt,TYPES,--types) $(call flag,OVERWRITE,--overwrite)

# ---- collectors ----
collect: $(STAMP) ## collect trajectories: [PROBLEMS=DIR|FILES] [AGENT=heuristic|oracle|teacher] [OUT=FILE] [WORKERS=4] [LIMIT=N] [MAX_STEPS=20] [OVERWRITE=1] [RETRY_ERRORS=1] [SHARD=i/n]
	$(PY) -m collectors $(call opts,PROBLEMS,--problems) $(call opt,AGENT,--agent) $(call opt,OUT,--out) \
	  $(call opt,WORKERS,--workers) $(call opt,LIMIT,--limit) $(call opt,MAX_STEPS,--max-steps) \
	  $(call flag,OVERWRITE,--overwrite) $(call flag,RETRY_ERRORS,--retry-errors) $(call opt,SHARD,--shard)

summarize: $(STAMP) ## add LLM summaries to a search-trace JSONL: IN=FILE OUT=FILE [MAX_CONCURRENT=16] [OVERWRITE=1]
	$(PY) -m collectors.summaries $(call opt,IN,--in) $(call opt,OUT,--out) \
	  $(call opt,MAX_CONCURRENT,--max-concurrent) $(call flag,OVERWRITE,--overwrite)

# ---- converters ----
convert: $(STAMP) ## trajectories (+ legacy files) -> LLaMA-Factory dataset: [IN=FILES] [NAME=ordebug] [FORMAT=alpaca|sharegpt] [VAL=0.1] [TEST=0.1] [SEED=0] [REQUIRE_GROUNDED=1] [REQUIRE_BENCHMARK_ACTIONS=0|1]
	$(PY) -m converters.sft $(call opts,IN,--in) $(call opt,NAME,--name) $(call opt,FORMAT,--format) \
	  $(call opt,VAL,--val) $(call opt,TEST,--test) $(call opt,SEED,--seed) $(call flag,REQUIRE_GROUNDED,--require-grounded) \
	  $(if $(filter 1 true yes,$(REQUIRE_BENCHMARK_ACTIONS)),--require-benchmark-actions,$(if $(filter 0 false no,$(REQUIRE_BENCHMARK_ACTIONS)),--no-require-benchmark-actions))

convert-traces: $(STAMP) ## tool-call trace logs -> dataset: IN=DIR [TOOLS=FILE] [MAX_CHARS=N]
	$(PY) -m converters.tool_traces $(call opts,IN,--in) $(call opt,TOOLS,--tools) $(call opt,MAX_CHARS,--max-chars)

convert-search: $(STAMP) ## search-agent traces (with summaries) -> datasets: IN=FILE
	$(PY) -m converters.search_traces $(call opt,IN,--in)

presample: $(STAMP) ## pre-sample large parquet sets: IN=FILES N=K [METHOD=reservoir|first|uniform] [LANG=en] [SEED=0]
	$(PY) -m converters.presample $(call opts,IN,--in) $(call opt,N,--n) $(call opt,METHOD,--method) \
	  $(if $(filter command line,$(origin LANG)),--lang $(call quote,$(LANG))) $(call opt,SEED,--seed)

# ---- recipes: training ----
tiny-model: $(STAMP) ## build the tiny Qwen3-architecture model (random weights, real tokenizer) into models/
	$(PY) -m recipes.tiny_model

train: $(STAMP) ## train a recipe: RECIPE=name [OVERRIDES="k=v ..."] [DRY_RUN=1] [RESUME=1] [OVERWRITE=1]
	$(PY) -m recipes.train $(call opt,RECIPE,--recipe) $(if $(OVERRIDES),--override $(OVERRIDES)) \
	  $(call flag,DRY_RUN,--dry-run) $(call flag,RESUME,--resume) $(call flag,OVERWRITE,--overwrite)

export: $(STAMP) ## merge a run's LoRA adapter into a full model with the qwen3_think chat template: RUN=DIR
	$(PY) -m recipes.export $(call opt,RUN,--run)

# ---- rl: the hand-off from SFT to GRPO (docs/rl.md) ----
rl-data: $(STAMP) ## GRPO prompts in an SFT dataset's format and split: PROBLEMS=DIR LIKE=data/<sft name> OUT=DIR [SPLIT=train] [TRAJECTORIES=FILES] [OVERWRITE=1]
	$(PY) -m rl.export $(call opts,PROBLEMS,--problems) $(call opt,LIKE,--like) $(call opt,OUT,--out) \
	  $(call opt,SPLIT,--split) $(call opts,TRAJECTORIES,--trajectories) $(call flag,OVERWRITE,--overwrite)

rl: $(STAMP) ## GRPO (TRL) with the solver-verified reward on `make export`'s merged model: [RL_CONFIG=rl/configs/grpo_qwen3.yaml] [RL_SET="k=v ..."] [DRY_RUN=1]
	$(PY) -m rl.train --config $(call quote,$(or $(RL_CONFIG),rl/configs/grpo_qwen3.yaml)) $(if $(RL_SET),--set $(RL_SET)) \
	  $(call flag,DRY_RUN,--dry-run)

# ---- eval ----
eval: $(STAMP) ## evaluate: [RUN=DIR | BASE_MODEL=DIR | POLICY=heuristic|drop_first|oracle|openai|predictions] [PROBLEMS="DIR ..."] [OUT=DIR] [CONCURRENCY=N] [MAX_STEPS=20] [PREDICTIONS=FILE] [TOOL_CALLS=FILE] [MODEL=] [BASE_URL=] [LIMIT=N] [BASELINES=a,b]
	$(PY) -m eval $(call opt,RUN,--run) $(call opt,POLICY,--policy) $(call opts,PROBLEMS,--problems) \
	  $(call opt,OUT,--out) $(call opt,CONCURRENCY,--concurrency) $(call opt,MAX_STEPS,--max-steps) \
	  $(call opt,PREDICTIONS,--predictions) $(call opt,TOOL_CALLS,--tool-calls) $(call opt,MODEL,--model) \
	  $(call opt,BASE_URL,--base-url) $(call opt,LIMIT,--limit) $(call opt,BASELINES,--baselines) \
	  $(call opt,BASE_MODEL,--base-model)

report: $(STAMP) ## one ablation table across evaluations: RUNS="DIR ..." [OUT=FILE]
	$(PY) -m eval.report $(RUNS) $(call opt,OUT,--out)

# ---- studies: ablations across recipes x seeds ----
study: $(STAMP) ## train, evaluate and compare (paired) a study's recipes x seeds: STUDY=name [DRY_RUN=1] [GPUS=0,1]
	$(PY) -m studies $(call opt,STUDY,--study) $(call flag,DRY_RUN,--dry-run) $(call opt,GPUS,--gpus)

# ---- the whole chain ----
demo: $(STAMP) ## the whole chain on the CPU: tiny model, generate, collect, convert, train, eval, report [OUT=runs/demo] [QUICK=1] [KEEP=1]
	$(PY) -m demo $(call opt,OUT,--out) $(call flag,QUICK,--quick) $(call flag,KEEP,--keep)

clean: ## remove generated outputs: data, trajectories, runs (the demo's too), models, results (keeps .venv)
	rm -rf data trajectories runs models results
