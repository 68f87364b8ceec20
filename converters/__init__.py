"""converters: files in, registered datasets out, one subpackage per workload around a shared core.

core/           samples, splits, errors, atomic files, the dataset_info.json registry
sft/            OR-Debug SFT from trajectories and legacy files (python -m converters.sft)
grounding/      python -m converters.grounding (the checker itself lives in sft/)
tool_traces/    tool-call traces (python -m converters.tool_traces)
search_traces/  search-agent traces (python -m converters.search_traces)
presample/      parquet pre-sampling (python -m converters.presample)
"""
