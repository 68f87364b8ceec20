"""The part every converter shares: samples, splits, errors, atomic files, the dataset registry."""
