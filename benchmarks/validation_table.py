"""Write the validation table (Markdown) from the rows ``make validate``'s tests recorded.

Usage: ``python benchmarks/validation_table.py RECORD.jsonl docs/validation_table.md``. Each
row is one figure a ``validation`` test measured (``tests/conftest.py``'s ``evidence``).

``--update PART.jsonl`` re-runs part of the evidence without the whole hour: the rows of the
tests that ``PART.jsonl`` holds replace those tests' rows in ``RECORD.jsonl`` (rewritten in
place, atomically, where the first of them stood), and the header says which tests were
re-run and when (RECORD, TABLE: ``.validation-record.jsonl``, ``docs/validation_table.md``)::

    BAYESSPR_VALIDATION_RECORD=/tmp/part.jsonl pytest -m validation -k forty_cities
    python benchmarks/validation_table.py --update /tmp/part.jsonl RECORD TABLE
"""

import argparse
import json
import sys
from pathlib import Path

from bayesspr.io.files import atomic_write


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _write_atomically(path: Path, text: str) -> None:
    atomic_write(lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), path)


def merge(rows: list[dict], part: list[dict]) -> list[dict]:
    """``rows`` with every row of a test in ``part`` replaced by ``part``'s rows of it."""
    tests = {row["test"] for row in part}
    kept = [row for row in rows if row["test"] not in tests]
    first = next((i for i, row in enumerate(rows) if row["test"] in tests), len(rows))
    at = sum(row["test"] not in tests for row in rows[:first])
    return kept[:at] + part + kept[at:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("record")
    parser.add_argument("out")
    parser.add_argument("--update", metavar="PART.jsonl", help="rows of re-run tests")
    args = parser.parse_args(argv)
    source = Path(args.record)
    rows = _read(source)
    part = _read(Path(args.update)) if args.update else []
    if args.update and not part:
        parser.error(f"{args.update} holds no rows: run the tests with BAYESSPR_VALIDATION_RECORD")
    rows = merge(rows, part)
    if part:
        _write_atomically(source, "".join(json.dumps(row) + "\n" for row in rows))
    lines = [
        "| check | figure | threshold | result | test |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        result = "pass" if row["passed"] else "**FAIL**"
        test = f"`{row['test']}`"
        cells = (row["check"], row["figure"], row["threshold"], result, test)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    failed = sum(not row["passed"] for row in rows)
    rerun = {row["test"] for row in part}
    full = [row["time"] for row in rows if row["test"] not in rerun]
    when = max(full) if full else "never"
    header = f"Made by `make validate` (last row {when} UTC)"
    if part:
        tests = f"{len(rerun)} test{'s' if len(rerun) != 1 else ''}"
        rerun_at = max(row["time"] for row in part)
        header += f"; the rows of {tests} re-run on {rerun_at} UTC (`validation_table.py --update`)"
    header += f"; {len(rows)} figures, {failed} failing.\n\n"
    _write_atomically(Path(args.out), header + "\n".join(lines) + "\n")
    print(header + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
