"""Ablation studies: a baseline recipe and its variants x seeds, trained, evaluated and compared pairwise.

`make study STUDY=rank` (`python -m studies --study rank`): the study file is
`recipes/studies/rank.yaml` (see docs/studies.md). Sits above `recipes` (training) and `eval`
(playing and scoring): every cell trains through `recipes.train` and is evaluated by `eval`.
"""
