"""The text every part shows a model: instruction, system prompts, and how they join.

One definition, used by collectors (teacher prompts), converters (SFT samples) and
eval (generation prompts), so collection, training and evaluation show a model
exactly the same text.
"""

from __future__ import annotations

#: The instruction of every legacy Alpaca sample (shared/data/legacy_sft), kept verbatim.
INSTRUCTION = "Debug the infeasible optimization model and provide the action to fix it."

#: The system prompt of OR-Debug-Bench's legacy messages file, kept verbatim (core actions only).
SYSTEM_PROMPT_CORE = (
    "You are an Operations Research debugging assistant.\n"
    "Analyze problems step-by-step in <think> tags, then output the action.\n"
    "\n"
    "Format:\n"
    "<think>\n"
    "Your detailed reasoning about the infeasibility...\n"
    "</think>\n"
    "\n"
    "Action: ACTION_TYPE(arguments)\n"
    "\n"
    "Available actions:\n"
    "- GET_IIS(): Compute Irreducible Infeasible Subsystem\n"
    "- DROP_CONSTRAINT(name): Remove a constraint\n"
    "- RELAX_CONSTRAINT(name, amount): Relax a constraint's RHS\n"
    "- SUBMIT(): Submit the repaired model"
)

#: The same prompt with the extended actions the benchmark also knows.
SYSTEM_PROMPT_EXTENDED = SYSTEM_PROMPT_CORE + (
    "\n"
    "- CHECK_SLACK(name): Show a constraint's activity, RHS and slack\n"
    "- UPDATE_RHS(name, value): Set a constraint's RHS\n"
    "- UPDATE_BOUNDS(var, lb, ub): Set a variable's bounds\n"
    "- RESET(): Undo every change"
)

#: What the rich layout's "## Diagnostics" section is (why: the LLM teacher and the scripted agents
#: read the same prompt, so it must say what the section shows and that it costs no step).
DIAGNOSTICS_NOTE = (
    "\n\n"
    "The Diagnostics section (shown while the model is infeasible; it changes nothing and costs no step) lists, "
    "per IIS member, the least change that restores feasibility as the exact action with the objective it leaves, "
    "the action from which the member no longer limits the objective, objectives at amounts in between, and "
    "combined repairs when no single change suffices.\n"
    "Copy an action or an amount from it; compare the objectives the repairs leave, not only their size."
)

#: The rich layout's prompt: the extended actions and what the Diagnostics section shows.
SYSTEM_PROMPT_RICH = SYSTEM_PROMPT_EXTENDED + DIAGNOSTICS_NOTE

#: The rich prompt with the what-if extension listed among the actions (episodes run with
#: ``whatif=True``; rich layout).
SYSTEM_PROMPT_WHATIF = SYSTEM_PROMPT_EXTENDED + (
    "\n"
    "- WHATIF_RELAX(name): Ask the solver, without changing the model, for the least relaxation of a "
    "constraint (or bound move of a variable) that alone restores feasibility and the objective it leaves\n"
    "- WHATIF_DROP(name): Ask the solver for the status and objective without a constraint (model unchanged)\n"
    "- WHATIF_IIS(): WHATIF_RELAX for every IIS member, and the least combined repair when none suffices alone"
) + DIAGNOSTICS_NOTE

#: Which system prompt goes with which observation layout.
SYSTEM_PROMPTS: dict[str, str] = {"legacy": SYSTEM_PROMPT_CORE, "rich": SYSTEM_PROMPT_RICH}


def system_prompt(layout: str = "legacy", whatif: bool = False) -> str:
    """The system prompt that goes with an observation layout (and the what-if extension)."""
    if whatif:
        if layout != "rich":
            raise ValueError(f"what-if actions need the rich layout (their answers are not shown in {layout!r})")
        return SYSTEM_PROMPT_WHATIF
    try:
        return SYSTEM_PROMPTS[layout]
    except KeyError:
        raise ValueError(f"unknown layout {layout!r}; expected one of {sorted(SYSTEM_PROMPTS)}") from None


def user_message(observation: str, instruction: str = INSTRUCTION) -> str:
    """The user turn for one observation.

    LLaMA-Factory joins an Alpaca sample's ``instruction`` and ``input`` with a single
    newline (``converter.py``: ``"\\n".join(query)``); every other path (ShareGPT
    samples, teacher prompts, eval prompts) uses this function so the text is the same.
    """
    return f"{instruction}\n{observation}" if observation else instruction
