"""The deepcomp command line: `deepcomp SUBCOMMAND ...` (also `python -m deepcomp`).

A user's mistake (a missing file, one that is not a .dcz, a corrupted one) is reported in one
line on stderr with exit status 1, never with a traceback.
"""
import argparse
import sys
from typing import Optional, Sequence

from . import io


def _inspect(args: argparse.Namespace) -> None:
    report = io.inspect(args.file)
    print(f"{args.file}: {report.file_bytes} bytes, {len(report)} tensors, "
          f"{report.dense_bytes} bytes dense (fp32): {report.rate:.1f}x")
    print(report)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="deepcomp", description="Deep Compression's compressed model files (.dcz).")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    inspect = commands.add_parser("inspect", help="print the per-tensor table of a .dcz file",
                                  description="Print the per-tensor table of a .dcz file: kept weights, bits per "
                                              "index and per gap before and after Huffman coding, bytes, rate.")
    inspect.add_argument("file", help="a .dcz file")
    inspect.set_defaults(run=_inspect)
    return top


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except (OSError, ValueError) as error:  # FormatError is a ValueError
        print(f"deepcomp {args.command}: error: {error}", file=sys.stderr)
        return 1
    return 0
