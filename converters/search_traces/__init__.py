"""Search-agent traces -> SFT data with their answers (`python -m converters.search_traces`)."""
