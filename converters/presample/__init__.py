"""Large parquet reasoning sets -> a uniform, language-filtered sample (`python -m converters.presample`)."""
