"""Generate ``docs/schema.md`` from the table definitions (run: ``python -m fimiscope.store.docs``).

A test checks that the committed file equals this output, so the documentation cannot drift.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fimiscope.store.migrations import all_migrations
from fimiscope.store.schema import SCHEMA_META


def render() -> str:
    lines = [
        "# Store schema",
        "",
        "Generated from `src/fimiscope/store/schema.py` and the subsystems' `schema` modules by",
        "`python -m fimiscope.store.docs`; do not edit by hand. All times are UTC `TIMESTAMPTZ`.",
        "Platform identity is always `(platform, id)`. Keys are logical (kept unique by the code",
        "that writes them), not enforced by indexes, so that bulk loads stay fast.",
        "",
    ]
    for m in all_migrations():
        tables = (SCHEMA_META, *m.tables) if m.version == 1 else m.tables
        lines += [f"## Migration {m.version}: {m.description}", ""]
        for t in tables:
            lines += [f"### `{t.name}`", "", t.doc, ""]
            if t.key:
                lines += [f"Key: `({', '.join(t.key)})`", ""]
            lines += ["| column | type | meaning |", "| --- | --- | --- |"]
            for c in t.columns:
                nn = " NOT NULL" if c.not_null else ""
                doc = c.doc.replace("|", "\\|")
                lines.append(f"| `{c.name}` | {c.type}{nn} | {doc} |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else Path("docs/schema.md")
    out.write_text(render(), encoding="utf-8")
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
