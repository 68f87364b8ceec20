"""OR-Debug SFT: trajectories and legacy SFT files -> checked, split, registered datasets (`python -m converters.sft`)."""
