"""The deepcomp command line: `deepcomp SUBCOMMAND ...` (also `python -m deepcomp`).

inspect FILE: the per-tensor table. report FILE [--plot DIR]: the table, where the bytes go, and plots.
decompress FILE OUT.pt: a dense state dict for any PyTorch user (torch.save). A user's mistake (a
missing file, one that is not a .dcz, a corrupted one, an existing output, no matplotlib) is reported
in one line on stderr with exit status 1, never with a traceback.
"""
import argparse
import os
import re
import sys
from io import BytesIO
from typing import Optional, Sequence

import torch

from . import __version__, io, ops, plots  # plots imports matplotlib only to draw
from ._files import write_atomically
from .report import format_table


def _inspect(args: argparse.Namespace) -> None:
    _print_table(args.file, io.inspect(args.file, max_bytes=args.max_bytes))


def _printable(text: str) -> str:
    """text with control characters (a file's tensor names may hold ESC, BEL, CR) escaped, lines kept."""
    return "".join(c if c == "\n" or c.isprintable() else repr(c)[1:-1] for c in text)


def _print_table(path: str, report) -> None:
    print(_printable(f"{path}: {report.file_bytes} bytes, {len(report)} tensors, "
                     f"{report.dense_bytes} bytes dense (fp32): {report.rate:.1f}x"))
    print(_printable(str(report).rstrip("\n")))


def _report(args: argparse.Namespace) -> None:
    report = io.inspect(args.file, max_bytes=args.max_bytes)
    _print_table(args.file, report)
    rows = plots.bytes_by_part(report)
    header = report.file_bytes - sum(t.bytes for t in report.tensors)
    table = [(plots.PART_LABELS[part], sum(r.before[part] for r in rows), sum(r.after[part] for r in rows))
             for part in plots.PARTS]
    table.append(("file header", header, header))
    total = ("total", sum(row[1] for row in table), sum(row[2] for row in table))
    print()
    print(format_table(("where the bytes go", "before Huffman", "after Huffman"), table, total))
    if args.plot is None:
        return
    os.makedirs(args.plot, exist_ok=True)
    written = [os.path.join(args.plot, "bytes.png")]
    plots.plot_bytes(report, path=written[0])
    for name, weight, mask, codebook in _compressed_weights(args.file, report, args.max_bytes):
        stem = _file_name(name)
        if os.path.join(args.plot, f"weights_{stem}.png") in written:  # 'a/b.weight' and 'a_b.weight'
            stem = f"{stem}_{len(written)}"
        written.append(os.path.join(args.plot, f"weights_{stem}.png"))
        plots.plot_weights(weight, mask=mask, codebook=codebook, name=name, path=written[-1])
    print()
    print(f"wrote {len(written)} plots: " + ", ".join(written))


def _decompress(args: argparse.Namespace) -> None:
    if os.path.lexists(args.out) and not args.force:
        raise FileExistsError(f"{args.out!r} exists; pass --force to overwrite it")
    state = io.load(args.file, max_bytes=args.max_bytes)
    buffer = BytesIO()
    torch.save(state, buffer)
    write_atomically(args.out, buffer.getbuffer())
    print(f"{args.out}: {len(state)} tensors, {os.path.getsize(args.out)} bytes "
          f"(a dense state dict for torch.load; from {args.file}: {os.path.getsize(args.file)} bytes)")


def _compressed_weights(path: str, report, max_bytes):
    """(name, dense weight, mask, codebook or None) of each compressed tensor of the file, decoded once."""
    wanted = []
    for t in report.tensors:
        if t.kind == "raw":
            wanted.append(t.name)
            continue
        prefix = t.name[:-len("weight")]  # compressed records are always `<layer>.weight`
        parts = ("weight", "mask") if t.kind == "sparse_raw" else ("codebook", "indices", "mask")
        wanted += [prefix + part for part in parts]
    state = io.load_state(path, wanted, max_bytes=max_bytes)
    for t in report.tensors:
        prefix = t.name[:-len("weight")]
        if t.kind == "sparse_raw":
            yield t.name, state[t.name], state[prefix + "mask"], None
        elif t.kind != "raw":
            codebook, mask = state[prefix + "codebook"], state[prefix + "mask"]
            yield t.name, ops.codebook_decode(state[prefix + "indices"], mask, codebook), mask, codebook


def _file_name(tensor_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", tensor_name)[:200]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="deepcomp", description="Deep Compression's compressed model files (.dcz).")
    top.add_argument("--version", action="version", version=f"deepcomp {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    reading = argparse.ArgumentParser(add_help=False)
    reading.add_argument("--max-bytes", type=int, metavar="N", default=None,
                         help="refuse a file whose decoded tensors take more than N bytes (default: 256 x the "
                              "file's size, at least 1 GiB)")
    inspect = commands.add_parser("inspect", parents=[reading], help="print the per-tensor table of a .dcz file",
                                  description="Print the per-tensor table of a .dcz file: kept weights, bits per "
                                              "index and per gap before and after Huffman coding, bytes, rate.")
    inspect.add_argument("file", metavar="FILE", help="a .dcz file")
    inspect.set_defaults(run=_inspect)
    report = commands.add_parser("report", parents=[reading], help="the table, where the bytes go, and plots",
                                 description="Print the per-tensor table of a .dcz file and the bytes of its "
                                             "weight indices, gaps, codebooks, raw values and framing before and "
                                             "after Huffman coding. With --plot DIR, also write DIR/bytes.png and "
                                             "DIR/weights_<tensor>.png for each compressed weight (needs "
                                             "matplotlib).")
    report.add_argument("file", metavar="FILE", help="a .dcz file")
    report.add_argument("--plot", metavar="DIR", help="write the plots (PNG) into DIR (created if missing)")
    report.set_defaults(run=_report)
    decompress = commands.add_parser("decompress", parents=[reading],
                                     help="write the dense state dict (torch.save) of a .dcz file",
                                     description="Decode a .dcz file into a dense state dict (name -> CPU tensor; "
                                                 "0 where pruned) and write it with torch.save, for any PyTorch "
                                                 "user: torch.load(OUT, weights_only=True).")
    decompress.add_argument("file", metavar="FILE", help="a .dcz file")
    decompress.add_argument("out", metavar="OUT", help="the .pt file to write")
    decompress.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    decompress.set_defaults(run=_decompress)
    return top


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except (OSError, ValueError, ImportError, MemoryError, RuntimeError) as error:  # FormatError is a ValueError
        message = " ".join(str(error).split()) or type(error).__name__
        print(_printable(f"deepcomp {args.command}: error: {message}"), file=sys.stderr)
        return 1
    return 0
