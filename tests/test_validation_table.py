"""``benchmarks/validation_table.py``: the table, and part of the evidence re-run in place."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "validation_table.py"


def _row(test: str, figure: str, passed: bool, time: str) -> dict:
    return {
        "check": f"check of {test}",
        "figure": figure,
        "threshold": "t",
        "passed": passed,
        "test": test,
        "time": time,
    }


def _write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_update_replaces_the_rerun_tests_rows_where_they_stood(tmp_path):
    record, part, out = tmp_path / "record.jsonl", tmp_path / "part.jsonl", tmp_path / "t.md"
    _write(
        record,
        [
            _row("a", "1", True, "2026-12-05 17:00"),
            _row("b", "2", False, "2026-12-05 17:10"),
            _row("b", "3", False, "2026-12-05 17:10"),
            _row("c", "4", True, "2026-12-05 17:20"),
        ],
    )
    _write(part, [_row("b", "5", True, "2026-12-06 09:00")])
    done = subprocess.run(
        [sys.executable, SCRIPT, record, out, "--update", part],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(r["test"], r["figure"]) for r in rows] == [("a", "1"), ("b", "5"), ("c", "4")]
    table = out.read_text()
    assert table.startswith(
        "Made by `make validate` (last row 2026-12-05 17:20 UTC); the rows "
        "of 1 test re-run on 2026-12-06 09:00 UTC"
    )
    assert "3 figures, 0 failing" in table and table in done.stdout + "\n"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    refused = subprocess.run(
        [sys.executable, SCRIPT, record, out, "--update", empty], capture_output=True, text=True
    )
    assert refused.returncode == 2 and "holds no rows" in refused.stderr
