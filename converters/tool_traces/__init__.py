"""Tool-call traces (agent run logs) -> multi-turn tool-calling SFT data (`python -m converters.tool_traces`)."""
