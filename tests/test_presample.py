"""Pre-sampling large parquet sets (docs/workloads.md): methods, English filter, mapping, bounded memory."""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from workloads_data import ENGLISH, GERMAN, expected_pass, write_parquet

from converters.presample import cli as presample
from converters.presample.sampling import (
    Stats,
    _reservoir_pass,
    open_sources,
    sample_reservoir,
    sample_uniform,
)

REPO = Path(__file__).resolve().parents[1]


def run(root: Path, inputs: list[Path], *args: str) -> int:
    return presample.main(["--in", *map(str, inputs), "--root", str(root), "--name", "s", *args])


def output(root: Path, name: str = "s") -> pd.DataFrame:
    return pd.read_parquet(root / "data" / name / "train.parquet")


def card(root: Path, name: str = "s") -> dict:
    return json.loads((root / "data" / name / "card.json").read_text())


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("shards")
    return [write_parquet(d / "train-00000-of-00002.parquet", 12000, row_group=1000),
            write_parquet(d / "train-00001-of-00002.parquet", 8000, row_group=3000, start=12000)]


def check_rows(df: pd.DataFrame, shards: list[Path]) -> None:
    """Every output row passes the filter and matches its source row (provenance is right)."""
    sources = {str(p): pq.read_table(p).to_pandas() for p in shards}
    for row in df.itertuples():
        src = sources[row.source_file].iloc[row.source_row]
        assert expected_pass(int(src["row_id"])), src["row_id"]
        assert row.instruction == src["prompt"]
        assert row.output == f"<think>\n{src['thinking']}\n</think>\n\n{src['response']}"


def test_first_n_english_rows_in_file_order(tmp_path: Path, shards: list[Path]) -> None:
    assert run(tmp_path, shards, "--n", "50", "--method", "first", "--lang", "en") == 0
    df = output(tmp_path)
    assert list(df["source_row"]) == [i for i in range(200) if expected_pass(i)][:50]
    check_rows(df, shards)


@pytest.mark.parametrize("method", ["uniform", "reservoir"])
def test_random_methods_are_uniform_over_passing_rows_and_detect_little(
        tmp_path: Path, shards: list[Path], method: str) -> None:
    n = 600
    assert run(tmp_path, shards, "--n", str(n), "--method", method, "--lang", "en", "--seed", "3") == 0
    df = output(tmp_path)
    assert len(df) == n and not df.duplicated(["source_file", "source_row"]).any()
    check_rows(df, shards)
    # spread over both shards in proportion to their passing rows, and over the whole range
    global_row = df["source_row"] + df["source_file"].str.contains("00001").astype(int) * 12000
    passing = [i for i in range(20000) if expected_pass(i)]
    quartiles = pd.cut(global_row, bins=[passing[int(k * len(passing) / 4)] for k in range(4)] + [20000],
                       right=False, labels=False).value_counts()
    assert len(quartiles) == 4 and quartiles.min() > 0.75 * n / 4 and quartiles.max() < 1.25 * n / 4
    c = card(tmp_path)
    # the detector ran on the candidates the sample needed, not on the 20000 rows
    assert c["detector_calls"] <= 2 * c["sampling"]["candidates"] < 0.4 * 20000
    assert c["sampling"]["accepted"] == n
    # same seed, same sample; another seed, another sample
    assert run(tmp_path, shards, "--n", str(n), "--method", method, "--lang", "en", "--seed", "3") == 0
    assert output(tmp_path).equals(df)
    assert run(tmp_path, shards, "--n", str(n), "--method", method, "--lang", "en", "--seed", "4") == 0
    assert not output(tmp_path)["source_row"].equals(df["source_row"])


def test_without_filter_reservoir_needs_no_detection_and_one_pass(tmp_path: Path, shards: list[Path]) -> None:
    assert run(tmp_path, shards, "--n", "300", "--method", "reservoir") == 0
    c = card(tmp_path)
    assert c["detector_calls"] == 0 and c["sampling"]["rounds"] == 1
    assert c["sampling"]["rows_scanned"] == 20000 and c["n_written"] == 300


def test_mapping_yaml_with_regex_and_reasoning_answer_layout(tmp_path: Path) -> None:
    src = tmp_path / "openo1.parquet"
    pq.write_table(pa.table({
        "instruction": [ENGLISH.format(i=i) for i in range(30)],
        "output": [f"<Thought>\nstep {i}\n</Thought>\n<Output>\n{i - 2}\n</Output>" for i in range(30)],
        "sys": ["Be brief."] * 30}), src)
    mapping = tmp_path / "map.yaml"
    mapping.write_text("question: instruction\nreasoning: output\nreasoning_regex: '<Thought>(.*?)</Thought>'\n"
                       "answer: output\nanswer_regex: '<Output>(.*?)</Output>'\nsystem: sys\n")
    assert run(tmp_path, [src], "--n", "5", "--method", "first", "--mapping", str(mapping),
               "--layout", "reasoning_answer") == 0
    row = output(tmp_path).iloc[3]
    assert row["output"] == "<reasoning>step 3</reasoning>\n<answer>1</answer>"
    assert row["system"] == "Be brief." and row["instruction"] == ENGLISH.format(i=3)
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info["s_train"]["file_name"] == "data/s/train.parquet"


def test_bad_inputs_are_one_line_errors(tmp_path: Path, shards: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    not_parquet = tmp_path / "x.parquet"
    not_parquet.write_text("hello")
    cases = [
        ([not_parquet], [], str(not_parquet)),
        ([tmp_path / "missing.parquet"], [], "does not exist"),
        (shards, ["--answer", "nope"], "has no column 'nope'"),
        (shards, ["--lang", "xx"], "unknown language code"),
    ]
    for inputs, extra, needle in cases:
        assert run(tmp_path, inputs, "--n", "5", *extra) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and needle in err, err
    pq.write_table(pa.table({"a": ["x"], "b": ["y"]}), tmp_path / "odd.parquet")
    assert run(tmp_path, [tmp_path / "odd.parquet"], "--n", "1") == 2
    assert "column mapping key `question`" in capsys.readouterr().err


def test_a_shell_locale_is_not_a_language_filter(tmp_path: Path, shards: list[Path],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # make passes LANG=C.UTF-8 from the environment when the user gives no LANG=
    assert run(tmp_path, shards, "--n", "20", "--method", "first", "--lang", "C.UTF-8") == 0
    assert "ignoring --lang 'C.UTF-8'" in capsys.readouterr().err
    assert card(tmp_path)["lang"] is None and card(tmp_path)["detector_calls"] == 0


def test_fewer_passing_rows_than_asked(tmp_path: Path) -> None:
    small = write_parquet(tmp_path / "small.parquet", 60, row_group=7)
    n_pass = sum(expected_pass(i) for i in range(60))
    assert run(tmp_path, [small], "--n", "100", "--method", "uniform", "--lang", "en") == 0
    df = output(tmp_path)
    assert sorted(df["source_row"]) == [i for i in range(60) if expected_pass(i)] and len(df) == n_pass


def _big_parquet(path: Path, rows: int, payload: int = 4000, group: int = 10000) -> int:
    """Rows with an English question and a ~4 KB incompressible reasoning field, written uncompressed."""
    schema = pa.schema([("prompt", pa.string()), ("thinking", pa.string()), ("response", pa.string())])
    with pq.ParquetWriter(path, schema, compression="none") as writer:
        for start in range(0, rows, group):
            n = min(group, rows - start)
            blob = base64.b64encode(os.urandom(n * payload * 3 // 4)).decode()
            writer.write_table(pa.table({
                "prompt": [ENGLISH.format(i=i) for i in range(start, start + n)],
                "thinking": [blob[k * payload:(k + 1) * payload] for k in range(n)],
                "response": [f"Tom has {i - 2} apples left." for i in range(start, start + n)]}, schema=schema))
    return path.stat().st_size


PEAK_RSS = """
import resource, sys
from converters.presample.cli import main
rc = main(sys.argv[1:])
# VmHWM is this process's own peak RSS; ru_maxrss would also count the pytest parent it was forked
# from (Linux keeps the max across fork + exec), so it is only the fallback off Linux.
try:
    hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    peak = int(hwm.split()[1]) / 1024
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("PEAK", peak)
sys.exit(rc)
"""


def _peak_rss_mb(root: Path, src: Path, method: str) -> float:
    proc = subprocess.run([sys.executable, "-c", PEAK_RSS, "--in", str(src), "--n", "500", "--method", method,
                           "--lang", "en", "--root", str(root), "--name", f"m_{method}_{src.stem}"],
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return float(proc.stdout.split("PEAK")[-1])


def test_memory_stays_bounded_on_a_file_larger_than_pandas_would_hold(tmp_path: Path) -> None:
    big = tmp_path / "big.parquet"
    size_mb = _big_parquet(big, 100_000) / 2**20  # ~395 MB on disk, ~0.9 GB as pandas objects
    small = tmp_path / "small.parquet"
    _big_parquet(small, 2_000)
    baseline = _peak_rss_mb(tmp_path, small, "reservoir")
    for method in ("reservoir", "uniform"):
        peak = _peak_rss_mb(tmp_path, big, method)
        # the whole file never sits in memory: peak grows by far less than the file's size
        # (measured against the same process on a tiny file: the interpreter and pyarrow's own footprint
        # differ between machines, so an absolute bound would test the machine, not the sampler)
        assert peak - baseline < 0.25 * size_mb, (method, peak, baseline, size_mb)
    assert len(output(tmp_path, "m_reservoir_big")) == 500


def test_reservoir_and_uniform_include_every_row_equally_often(tmp_path: Path) -> None:
    """Inclusion frequencies over many seeds, including Algorithm L's compaction and a second pass."""
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"i": pa.array(range(200), pa.int64())}), path, row_group_size=30)
    sources = open_sources([path])
    counts = {"reservoir": np.zeros(200), "uniform": np.zeros(200), "second pass": np.zeros(200)}
    excluded = np.arange(0, 200, 4, dtype=np.int64)  # as if a first pass had drawn these rows
    for seed in range(600):
        for name, fn in (("reservoir", sample_reservoir), ("uniform", sample_uniform)):
            rows, _ = fn(sources, 4, ["i"], None, seed=seed, batch_rows=16)
            assert len({r["i"] for r in rows}) == 4 and all(r["i"] == r["_row"] for r in rows)
            counts[name][[r["i"] for r in rows]] += 1
        picked = _reservoir_pass(sources, 4, ["i"], excluded, random.Random(seed), 16, Stats())
        assert all(g == row["i"] and g % 4 for g, row in picked)
        counts["second pass"][[g for g, _ in picked]] += 1
    for name, c in counts.items():
        deciles = c.reshape(10, 20).sum(axis=1)  # expected 240 per decile (4 of 200 rows, 600 seeds)
        assert deciles.min() > 180 and deciles.max() < 300, (name, deciles)
    assert counts["second pass"][excluded].sum() == 0


def test_a_numeric_answer_column_is_passed_over_by_the_language_filter(tmp_path: Path) -> None:
    # math sets (large public reasoning sets) hold numbers as answers; a number has no language
    n = 4000
    src = tmp_path / "math.parquet"
    questions = [GERMAN.format(i=i) if i % 4 == 0 else ENGLISH.format(i=i) for i in range(n)]
    pq.write_table(pa.table({"question": questions, "thinking": [f"Tom keeps {i} minus two." for i in range(n)],
                             "answer": pa.array([i - 2 for i in range(n)], pa.int64())}), src, row_group_size=500)
    assert run(tmp_path, [src], "--n", "200", "--method", "uniform", "--lang", "en", "--seed", "1") == 0
    df = output(tmp_path)
    assert len(df) == 200 and all(row % 4 != 0 for row in df["source_row"])
    assert all(out.endswith(f"\n\n{row - 2}") for out, row in zip(df["output"], df["source_row"], strict=True))
