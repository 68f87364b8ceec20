"""No piece of the API key and no URL credential reaches disk or stderr (issue 23, probes 1 and 2).

The endpoint is the loopback server with the real ``openai`` client; the runs are the real CLIs.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from foundation.redact import MIN_PIECE, redact
from tests.collectors_helpers import make_bench, run_cli
from tests.support.loopback import LoopbackServer, Reply

KEY56 = "sk-proj-" + "Q7w2Zr9XkLm4Np8Tv3Yb6Hc1Jd5Fg0Ks7Ue2Wa9Ri4Ox8Pl3Mn6Bq"[:48]
KEY90 = "sk-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4Y5z6A7b8C9d0E1f2G3h4I5j6K7l8M9n0O1p2Q3r4S5"[:87]


def key_pieces_in(text: str, key: str) -> list[str]:
    """Every MIN_PIECE-long window of ``key`` that ``text`` contains."""
    return [key[i : i + MIN_PIECE] for i in range(len(key) - MIN_PIECE + 1) if key[i : i + MIN_PIECE] in text]


def leaks(folder: Path, stderr: str, key: str, *words: str) -> dict[str, list[str]]:
    """Files (and stderr) that hold a piece of ``key`` or one of ``words``."""
    found: dict[str, list[str]] = {}
    texts = {"stderr": stderr} | {
        str(p): p.read_text(encoding="utf-8", errors="replace") for p in folder.rglob("*") if p.is_file()
    }
    for name, text in texts.items():
        hits = key_pieces_in(text, key)[:1] + [w for w in words if w in text]
        if hits:
            found[name] = hits
    return found


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    return make_bench(tmp_path_factory.mktemp("redaction") / "set", n=9, seed=5)


# ------------------------------------------------------------------ the function


def test_redact_masks_any_long_piece_of_the_key_and_keeps_short_coincidences() -> None:
    key = KEY56
    assert len(key) == 56
    text = f"proxy saw Bearer {key[:52]} and failed; then {key[20:29]}; word {key[:5]}"
    out = redact(text, [key])
    assert key_pieces_in(out, key) == []
    assert out.startswith("proxy saw Bearer *** and failed; then ***; word ")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("GET http://bob:PASSWORD@127.0.0.1:18777/v1 failed", "GET http://***@127.0.0.1:18777/v1 failed"),
        ("see https://h/v1?api_key=SECRET&model=m", "see https://h/v1?api_key=***&model=m"),
        ("u=https://h/x?a=1&access_token=T0K&sig=abc#frag", "u=https://h/x?a=1&access_token=***&sig=***#frag"),
        ("https://h/x?X-Goog-Signature=zz&Token=t", "https://h/x?X-Goog-Signature=***&Token=***"),
        ("no secrets at https://h/v1?model=m here", "no secrets at https://h/v1?model=m here"),
    ],
)
def test_redact_masks_url_credentials_and_key_parameters(text: str, shown: str) -> None:
    assert redact(text) == shown


# ------------------------------------------------------------------ probe 1: a key echoed in a 200 body


def echo_key(key: str):
    """An endpoint that answers 200 with an error body quoting the key (a misbehaving proxy)."""
    body = json.dumps({"error": f"proxy saw Bearer {key} and failed"})
    return lambda request: Reply(raw_body=body)


def teacher_env(url: str, key: str) -> dict[str, str]:
    return {"ORDEBUG_TEACHER_BASE_URL": url, "ORDEBUG_TEACHER_MODEL": "loop-1",
            "ORDEBUG_TEACHER_CONFIG": "", "ORDEBUG_TEACHER_API_KEY": key,
            "ORDEBUG_TEACHER_MAX_RETRIES": "0"}  # fmt: skip


def test_collector_writes_no_piece_of_a_key_the_endpoint_echoes(bench, tmp_path) -> None:
    out = tmp_path / "run" / "t.jsonl"
    with LoopbackServer(echo_key(KEY56)) as srv:
        done = run_cli("collectors", "--agent", "teacher", "--problems", str(bench), "--out", str(out),
                       "--workers", "1", "--limit", "2", "--no-progress", env=teacher_env(srv.base_url, KEY56))  # fmt: skip
    assert out.exists() and "malformed response" in out.read_text()  # the error was recorded...
    assert leaks(out.parent, done.stderr, KEY56) == {}  # ...without the key


def test_eval_writes_no_piece_of_a_key_the_endpoint_echoes(bench, tmp_path) -> None:
    out = tmp_path / "eval"
    with LoopbackServer(echo_key(KEY90)) as srv:
        done = run_cli("eval", "--policy", "openai", "--model", "loop-1", "--problems", str(bench),
                       "--out", str(out), "--no-progress", "--no-oracle-cost", "--baselines", "none", "--limit", "2",
                       "--base-url", srv.base_url, env={"ORDEBUG_EVAL_API_KEY": KEY90})  # fmt: skip
    assert "malformed response" in (out / "results.json").read_text()
    assert leaks(out, done.stderr, KEY90) == {}


# ------------------------------------------------------------------ probe 2: credentials in the base URL


def with_credentials(url: str) -> str:
    return url.replace("http://", "http://bob:PASSWORD@", 1) + "?api_key=SECRETPARAM"


def test_credentials_in_the_base_url_stay_off_stderr_and_the_summary(bench, tmp_path) -> None:
    with LoopbackServer(lambda r: Reply(status=404, raw_body='{"error": {"message": "no such path"}}')) as srv:
        url = with_credentials(srv.base_url)
        out = tmp_path / "a" / "t.jsonl"
        refused = run_cli("collectors", "--agent", "teacher", "--problems", str(bench), "--out", str(out),
                          "--workers", "1", "--limit", "2", "--no-progress", env=teacher_env(url, KEY56))  # fmt: skip
    assert refused.returncode == 2 and "HTTP 404" in refused.stderr
    assert leaks(out.parent, refused.stderr, KEY56, "PASSWORD", "SECRETPARAM", "bob") == {}

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = with_credentials(f"http://127.0.0.1:{sock.getsockname()[1]}/v1")
    out = tmp_path / "b" / "t.jsonl"
    down = run_cli("collectors", "--agent", "teacher", "--problems", str(bench), "--out", str(out),
                   "--workers", "1", "--limit", "2", "--no-progress", env=teacher_env(url, KEY56))  # fmt: skip
    assert down.returncode == 2 and "check that the server at http://127.0.0.1" in down.stderr
    assert leaks(out.parent, down.stderr, KEY56, "PASSWORD", "SECRETPARAM", "bob") == {}
