"""The deepcomp command line: `deepcomp SUBCOMMAND ...` (also `python -m deepcomp`).

inspect FILE: the per-tensor table. report FILE [--plot DIR]: the table, where the bytes go, and plots.
decompress FILE OUT: a dense state dict for any PyTorch user (.pt or .safetensors). compress CHECKPOINT -o OUT:
a state dict's Linear and convolution weights pruned and quantized into a .dcz file. A user's mistake (a
missing file, one that is not a .dcz, a corrupted one, an existing output, no matplotlib) is reported
in one line on stderr with exit status 1, never with a traceback.
"""
import argparse
import os
import pickle
import re
import sys
from io import BytesIO
from typing import Optional, Sequence

import torch

from . import __version__, checkpoint, io, ops, plots  # plots imports matplotlib only to draw
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
    if args.plot is not None and os.path.exists(args.plot) and not os.path.isdir(args.plot):
        raise NotADirectoryError(f"--plot {args.plot!r} is a file; name a directory (created if missing)")
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
    if args.out.endswith(".safetensors"):
        data, reader = _safetensors().save(state), "safetensors.torch.load_file"
    else:
        buffer = BytesIO()
        torch.save(state, buffer)
        data, reader = buffer.getbuffer(), "torch.load"
    write_atomically(args.out, data)
    print(f"{args.out}: {len(state)} tensors, {len(data)} bytes "
          f"(a dense state dict for {reader}; from {args.file}: {os.path.getsize(args.file)} bytes)")


def _compress(args: argparse.Namespace) -> None:
    if os.path.lexists(args.out) and not args.force:
        raise FileExistsError(f"{args.out!r} exists; pass --force to overwrite it")
    state = _read_checkpoint(args.checkpoint)
    bits = dict(args.layer_bits) if args.layer_bits else args.bits
    if sum((args.layer_bits is not None, args.bits is not None, args.max_bytes is not None)) > 1:
        raise ValueError("pass one of --bits, --layer-bits or --max-bytes")
    state, pruned, quantized = checkpoint.compress_state(
        state, sparsity=args.sparsity, sensitivity=args.sensitivity, bits=bits, layers=args.layers,
        exclude=args.exclude, quantize=not args.no_quantize, group_size=args.group_size, max_bytes=args.max_bytes)
    for report in (pruned, quantized):
        if report is not None:
            print(_printable(str(report)), end="\n\n")
    _print_table(args.out, io.save(state, args.out))


def _read_checkpoint(path: str) -> dict:
    """A state dict from a .safetensors file or a torch.save file, read without unpickling code."""
    if path.endswith(".safetensors"):
        return _safetensors().load_file(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(isinstance(t, torch.Tensor) for t in state.values()):
        raise ValueError(f"{path!r} holds a {type(state).__name__}, not a state dict of tensors")
    return state


def _safetensors():
    """safetensors.torch: .safetensors files, read and written by their own library (never pickle)."""
    try:
        import safetensors.torch
    except ImportError:
        raise ImportError(".safetensors files need the safetensors package (pip install safetensors)") from None
    return safetensors.torch


def _layer_bits(text: str):
    name, _, bits = text.rpartition("=")
    if not name or not bits.isdigit():
        raise argparse.ArgumentTypeError(f"expected LAYER=BITS, got {text!r}")
    return name, int(bits)


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
                                     help="write the dense state dict (.pt or .safetensors) of a .dcz file",
                                     description="Decode a .dcz file into a dense state dict (name -> CPU tensor; "
                                                 "0 where pruned) and write it for any PyTorch user: with "
                                                 "torch.save (torch.load(OUT, weights_only=True)), or with "
                                                 "safetensors when OUT ends in .safetensors.")
    decompress.add_argument("file", metavar="FILE", help="a .dcz file")
    decompress.add_argument("out", metavar="OUT", help="the .pt or .safetensors file to write")
    decompress.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    decompress.set_defaults(run=_decompress)
    compress = commands.add_parser(
        "compress", help="prune and quantize a checkpoint's weights into a .dcz file, without the model's code",
        description="Read a state dict (torch.save's .pt, read with weights_only=True, or .safetensors), prune "
                    "and quantize its 2-D and 4-D floating-point <layer>.weight tensors as deepcomp.prune and "
                    "deepcomp.quantize would (Linear and Conv1d/2d/3d weights), and write the .dcz file. Load it back "
                    "with deepcomp.load(OUT, model, match_layers=True).")
    compress.add_argument("checkpoint", metavar="CHECKPOINT", help="a .pt or .safetensors state dict")
    compress.add_argument("-o", "--out", required=True, metavar="OUT", help="the .dcz file to write")
    criterion = compress.add_mutually_exclusive_group()
    criterion.add_argument("--sparsity", type=float, help="prune this fraction of each layer's weights")
    criterion.add_argument("--sensitivity", type=float, help="prune |w| < this × std of the layer's weights")
    compress.add_argument("--bits", type=int, help="codebook bits for every layer (default 8 conv, 5 linear)")
    compress.add_argument("--layer-bits", type=_layer_bits, action="append", metavar="LAYER=BITS",
                          help="codebook bits for one layer (repeat for more)")
    compress.add_argument("--max-bytes", type=int, metavar="N",
                          help="each layer's bits (8 to 2) for a file of at most N bytes, by least weight error")
    compress.add_argument("--group-size", type=int, metavar="G",
                          help="a codebook per G output channels of each layer (default: one per layer)")
    compress.add_argument("--layers", nargs="+", metavar="LAYER", help="only these layers")
    compress.add_argument("--exclude", nargs="+", metavar="LAYER", help="leave these layers alone")
    compress.add_argument("--no-quantize", action="store_true", help="prune only")
    compress.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    compress.set_defaults(run=_compress)
    return top


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except (OSError, ValueError, ImportError, MemoryError, RuntimeError, pickle.UnpicklingError) as error:
        # FormatError is a ValueError; torch.load(weights_only=True) refuses code with UnpicklingError
        message = " ".join(str(error).split()) or type(error).__name__
        print(_printable(f"deepcomp {args.command}: error: {message}"), file=sys.stderr)
        return 1
    return 0
