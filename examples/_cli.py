"""The shared command line of the example scripts: ``--quick``, ``--out``, JSON out."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path


def example_main(run: Callable[..., dict], name: str, doc: str) -> None:
    """Parse ``--quick``/``--out``, run, write ``OUT/<name>.json`` and print the result."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="less data: the same code, faster")
    parser.add_argument("--out", type=Path, default=Path("examples/output"))
    args = parser.parse_args()
    result = run(quick=args.quick, out=args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))
