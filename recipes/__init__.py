"""recipes: training with LLaMA-Factory from validated YAML recipes.

Public API (what other parts import):

- `recipes.template`: the `qwen3_think` chat template. `register()` (idempotent),
  `chat_template() -> str` (the shipped Jinja), `template_sha256()`, `render(messages, tools=None,
  add_generation_prompt=False)`, `render_prompt(messages, tools=None)` (what eval sends), `NAME`,
  `GENERATION_PROMPT`, `STOP_WORDS`.
- `recipes.tiny_model.build_tiny_model(out_dir) -> Path`: the tiny Qwen3 for tests and the demo.
- `recipes.recipe.load_recipe(name_or_path, overrides) -> Recipe` and
  `recipes.validate.check_recipe(recipe, dry_run=...) -> Checked` (problems, phase plans, launch plan).
- `recipes.manifest.Manifest`: the schema of `runs/<name>/manifest.json`.
- `recipes.export.export_run(run_dir, out_dir=None) -> Path`: merge a LoRA run into a full model.

CLIs: `python -m recipes.train`, `recipes.export`, `recipes.tiny_model`, `recipes.template`,
`recipes.schema_snapshot` (after a LLaMA-Factory upgrade).
"""
