"""Run every benchmark with its default sizes, one after another (what ``make bench`` runs).

Each script prints its own table; see docs/benchmarks.md for the recorded figures and the
exact commands. Pass a script name to run only that one, e.g.
``.venv/bin/python benchmarks/run_all.py bench_ingest``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = [
    ("bench_ingest", []),
    ("bench_coordination_quality", ["--actions", "1000000", "--calibrate"]),
    ("bench_coordination_scale", []),
    ("bench_coordination_peer", ["--sizes", "100k,1M"]),
    ("bench_characterize", []),
    ("bench_web", ["--actions", "1000000"]),
    ("bench_narratives", ["quality", "--actions", "200000", "--seed", "7"]),
    ("bench_narratives", ["throughput", "--posts", "1000000"]),
    (
        "bench_monitor",
        [
            "--rate",
            "20000",
            "--duration",
            "600",
            "--loops",
            "14",
            "--detect-share",
            "0.25",
            "--batch-size",
            "100000",
            "--batch-seconds",
            "1.0",
        ],
    ),
]


def main(argv: list[str]) -> int:
    wanted = set(argv) or {name for name, _ in SCRIPTS}
    failed = []
    for name, args in SCRIPTS:
        script = HERE / f"{name}.py"
        if name not in wanted or not script.exists():
            continue
        print(f"\n## {name} {' '.join(args)}", flush=True)
        if subprocess.run([sys.executable, str(script), *args], check=False).returncode:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
