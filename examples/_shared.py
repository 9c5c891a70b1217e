"""What the example scripts share: their command line and a single-threaded torch context."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import torch


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


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch single-threaded: these fits are small, and on a busy 2-core machine two
    intra-op threads were observed to slow them down severalfold (not benchmarked)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
