"""``python -m fimiscope.simulate --out DIR --actions N --seed S``: print the files as JSON."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import orjson

from fimiscope.simulate import generate_scenario


def main(argv: list[str] | None = None) -> int:
    """Generate a scenario and print the written files as JSON on stdout."""
    ap = argparse.ArgumentParser(prog="python -m fimiscope.simulate")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--actions", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--bluesky-share", type=float, default=0.15)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    files = generate_scenario(
        args.out, actions=args.actions, seed=args.seed, bluesky_share=args.bluesky_share
    )
    doc = {k: (str(v) if isinstance(v, Path) else v) for k, v in files.__dict__.items()}
    doc["seconds"] = round(time.perf_counter() - t0, 2)
    sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
