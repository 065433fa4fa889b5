"""Write the validation table (Markdown) from the rows ``make validate``'s tests recorded.

Usage: ``python benchmarks/validation_table.py RECORD.jsonl docs/validation_table.md``. Each
row is one figure a ``validation`` test measured (``tests/conftest.py``'s ``evidence``).
"""

import json
import sys
from pathlib import Path


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def main(record: str, out: str) -> int:
    source = Path(record)
    rows = [json.loads(line) for line in source.read_text().splitlines()] if source.exists() else []
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
    when = rows[-1]["time"] if rows else "never"
    header = (
        f"Made by `make validate` (last row {when} UTC); {len(rows)} figures, {failed} failing.\n\n"
    )
    target = Path(out)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(target)
    print(header + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
