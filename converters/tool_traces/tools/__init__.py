"""Tool schemas shipped with the converters (YAML; see converters/tool_traces/schema.py)."""
