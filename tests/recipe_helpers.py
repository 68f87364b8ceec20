"""Helpers for the recipe tests: a small dataset directory built from OR-Debug-Bench's real samples."""

from __future__ import annotations

import json
from pathlib import Path

from ordebug.prompts import SYSTEM_PROMPT_CORE
from recipes.dataset_sources import source_of


def write_dataset_dir(shared_data: Path, dest: Path, names: list[str] | tuple[str, ...] = (), n: int = 16) -> Path:
    """A LLaMA-Factory dataset_dir: `ordebug_train`/`ordebug_val` (Alpaca, legacy teacher samples),
    `chat_train` (ShareGPT messages, legacy chat samples), and every name in `names` (Alpaca)."""
    legacy = json.loads((shared_data / "legacy_sft" / "sft_gpt52chat.json").read_text())["data"]
    chats = [json.loads(line) for line in
             (shared_data / "legacy_sft" / "sft_qwen_chat.val.jsonl").read_text().splitlines()[:n]]
    data = dest / "data"
    data.mkdir(parents=True, exist_ok=True)
    alpaca = [{k: s[k] for k in ("instruction", "input", "output")} | {"system": SYSTEM_PROMPT_CORE}
              for s in legacy[:n]]
    with (data / "train.jsonl").open("w") as fh:
        fh.writelines(json.dumps(row) + "\n" for row in alpaca)
    with (data / "val.jsonl").open("w") as fh:
        fh.writelines(json.dumps({k: s[k] for k in ("instruction", "input", "output")}) + "\n"
                      for s in legacy[n: n + 4])
    with (data / "chat.jsonl").open("w") as fh:
        fh.writelines(json.dumps(c) + "\n" for c in chats)
    columns = {"prompt": "instruction", "query": "input", "response": "output", "system": "system"}
    chat = {"file_name": "data/chat.jsonl", "formatting": "sharegpt", "columns": {"messages": "messages"},
            "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                     "assistant_tag": "assistant", "system_tag": "system"}}
    # each name registered with the kind of rows its converter makes (messages for tool calls, multi-turn)
    info: dict[str, dict] = {name: dict(chat) if source_of(name).messages else
                             {"file_name": "data/train.jsonl", "columns": columns} for name in names}
    info |= {
        "ordebug_train": {"file_name": "data/train.jsonl", "columns": columns},
        "ordebug_val": {"file_name": "data/val.jsonl"},
        "chat_train": chat,
    }
    (dest / "dataset_info.json").write_text(json.dumps(info, indent=2))
    return dest
