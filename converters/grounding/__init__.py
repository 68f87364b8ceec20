"""`python -m converters.grounding FILE...`: the grounding report; the checker is converters/sft/grounding.py."""
