"""Size and speed of deepcomp's Huffman streams against the entropy, zstd and dahuffman.

Streams (symbols are bytes; 1 symbol = 1 byte of "MB"):
  gaps 5b, 9% dense        --symbols relative gaps of a 9%-dense layer, as the .dcz sparse layout
                           writes them with 5-bit gaps (F = 31): geometric gaps g -> g // F fillers F,
                           then g % F;
  indices 5b, near-uniform --symbols 5-bit indices, probabilities 1 + 0.3 u (u uniform in [0, 1)),
                           normalised;
  indices 8b, peaked       --symbols 8-bit indices like a k-means index histogram: round(127.5 + 20 z),
                           z standard normal, clipped to 0..255;
  indices 8b, uniform      --symbols uniform 8-bit indices;
  LeNet fc1 gaps / indices a real layer: LeNet-300-100 trained for --epochs epochs on Fashion-MNIST
                           (examples/lenet/fashion_mnist.py), its fc1 (784x300) pruned to 8% kept with
                           deepcomp.prune and quantized to 5 bits with deepcomp.quantize (no retraining);
                           the gap symbols (5 bits) derived from its mask as the .dcz sparse layout does
                           and its indices (kept weights, row-major).
Columns: entropy of the symbols' histogram (bits/symbol); deepcomp bits/symbol = 8 x the bytes of
deepcomp._C.codec.encode_stream (header included) / symbols, and its gap to the entropy; encode and
decode MB/s of encode_stream and of decode_stream into a preallocated array (the whole Python call:
histogram, code, header and copies included); zstd level --zstd-level (python-zstandard) bits/symbol
and compress / decompress MB/s; dahuffman bits/symbol (its code table not counted) and encode / decode
MB/s, on a --dahuffman-symbols prefix only (pure Python, slow). Times are medians of --repeats runs
(fewer where a run takes long: at most --budget seconds per measurement, at least one run), after one
warm-up run of deepcomp. Everything single-threaded (torch.set_num_threads(1)).

The lines below the table say whether deepcomp met its goals in this run: encode >= 500 MB/s, decode
>= 1000 MB/s (as a ratio to the goal), and bits/symbol within 0.05 of the entropy where a prefix code
can get there: where even an optimal code (lengths up to 15 bits, header not counted) costs more than
entropy + 0.05, the goal is marked unreachable for that stream.

Run from the repository root (about a minute or two on a 2-core CPU):
  .venv/bin/pip install -r benchmarks/requirements.txt
  .venv/bin/python benchmarks/bench_huffman.py
(--help for --symbols, --repeats, --budget, --epochs, --zstd-level, --dahuffman-symbols, --json).
"""
import os

# Before numpy and torch load their OpenMP and BLAS runtimes: everything here is single-threaded.
os.environ["OMP_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import dahuffman  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import zstandard  # noqa: E402

import deepcomp  # noqa: E402
from deepcomp._C import codec  # noqa: E402
from common import count  # noqa: E402
from deepcomp.report import format_table  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "lenet"))
import fashion_mnist  # noqa: E402

GOAL_ENCODE_MBS = 500.0
GOAL_DECODE_MBS = 1000.0
GOAL_ENTROPY_GAP = 0.05  # bits/symbol
GAP_BITS = 5  # the .dcz default for fully connected layers
FC1_KEPT = 0.08  # the paper's density of LeNet-300-100's fc1
INDEX_BITS = 5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", type=count, default=10 ** 7, help="symbols per synthetic stream")
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per measurement (at most)")
    parser.add_argument("--budget", type=float, default=3.0,
                        help="seconds per measurement after which no further runs start")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs of the real LeNet-300-100")
    parser.add_argument("--zstd-level", type=int, default=19)
    parser.add_argument("--dahuffman-symbols", type=count, default=10 ** 6,
                        help="prefix of each stream that dahuffman codes")
    parser.add_argument("--max-code-length", type=int, default=codec.DEFAULT_MAX_CODE_LENGTH)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-root", default=fashion_mnist.DEFAULT_ROOT)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    return parser.parse_args()


# ---------------------------------------------------------------------------------------------
# Streams


def gap_symbols(gaps: np.ndarray, gap_bits: int, trailing: int = 0) -> np.ndarray:
    """The .dcz gap symbols of pruned-run lengths `gaps` (each followed by a kept position), then a
    final pruned run of `trailing` positions: g -> g // F fillers F and g % F (F = 2^gap_bits - 1);
    a final run shorter than F is implied, longer ones are fillers."""
    filler = (1 << gap_bits) - 1
    gaps = np.asarray(gaps, dtype=np.int64)
    per_gap = gaps // filler + 1
    symbols = np.full(int(per_gap.sum()) + trailing // filler, filler, dtype=np.uint8)
    symbols[np.cumsum(per_gap) - 1] = (gaps % filler).astype(np.uint8)
    return symbols


def synthetic_streams(n: int, rng: np.random.Generator) -> list:
    """[(name, alphabet bits, symbols)] of the four synthetic streams, n symbols each."""
    gaps = rng.geometric(0.09, size=n) - 1  # P(kept) = 9% per position: g pruned before each kept one
    gap_stream = gap_symbols(gaps, GAP_BITS)[:n]
    weights = 1.0 + 0.3 * rng.random(32)
    near_uniform = rng.choice(32, size=n, p=weights / weights.sum()).astype(np.uint8)
    peaked = np.clip(np.rint(127.5 + 20.0 * rng.standard_normal(n)), 0, 255).astype(np.uint8)
    uniform = rng.integers(0, 256, size=n, dtype=np.uint8)
    return [("gaps 5b, 9% dense", GAP_BITS, gap_stream), ("indices 5b, near-uniform", 5, near_uniform),
            ("indices 8b, peaked", 8, peaked), ("indices 8b, uniform", 8, uniform)]


def lenet_streams(args) -> tuple:
    """([(name, alphabet bits, symbols)] of LeNet-300-100's fc1 gaps and indices, description)."""
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    images, labels = fashion_mnist.load("train", args.data_root)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 300), torch.nn.ReLU(),
                                torch.nn.Linear(300, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    generator = torch.Generator().manual_seed(args.seed)
    for _ in range(args.epochs):
        for batch in torch.randperm(len(images), generator=generator).split(128):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(images[batch]), labels[batch]).backward()
            optimizer.step()
    deepcomp.prune(model, sparsity={"1": 1.0 - FC1_KEPT})
    deepcomp.quantize(model, bits={"1": INDEX_BITS}, layers=["1"])
    fc1 = model[1]
    mask = fc1.mask.flatten().numpy()
    kept = np.flatnonzero(mask)
    gaps = np.diff(kept, prepend=-1) - 1
    gap_stream = gap_symbols(gaps, GAP_BITS, trailing=mask.size - 1 - int(kept[-1]))
    index_stream = fc1.indices.flatten().numpy()[kept].astype(np.uint8)
    seconds = time.perf_counter() - start
    note = (f"LeNet fc1: {args.epochs} epoch(s) on Fashion-MNIST, pruned to {100 * FC1_KEPT:.0f}% kept "
            f"({len(kept)} of {mask.size} weights), {INDEX_BITS}-bit codebook; built in {seconds:.1f} s")
    return [("LeNet fc1 gaps (5b)", GAP_BITS, gap_stream), ("LeNet fc1 indices (5b)", INDEX_BITS, index_stream)], note


# ---------------------------------------------------------------------------------------------
# Measurements


def timed(fn, repeats: int, budget: float) -> tuple:
    """(median seconds, last result) of up to `repeats` runs, no new run once `budget` s are spent."""
    times, result, spent = [], None, 0.0
    while len(times) < max(1, repeats) and (not times or spent < budget):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        spent += times[-1]
    return statistics.median(times), result


def entropy(symbols: np.ndarray) -> float:
    counts = np.bincount(symbols, minlength=256).astype(np.float64)
    p = counts[counts > 0] / symbols.size
    return float(-(p * np.log2(p)).sum())


def optimal_prefix_bits(symbols: np.ndarray, bits: int) -> float:
    """Bits/symbol of the best prefix code (lengths up to 15, header not counted)."""
    lengths = np.array(codec.code_lengths(symbols, bits, codec.MAX_CODE_LENGTH), dtype=np.float64)
    counts = np.bincount(symbols, minlength=1 << bits)[:1 << bits]
    return float((lengths * counts).sum() / symbols.size)


def mbs(n: int, seconds: float) -> float:
    return n / 1e6 / seconds


def bench_stream(name: str, bits: int, symbols: np.ndarray, args) -> dict:
    n = symbols.size
    row = {"stream": name, "alphabet_bits": bits, "symbols": n, "entropy": entropy(symbols),
           "optimal_prefix_bits": optimal_prefix_bits(symbols, bits)}

    # deepcomp: one warm-up run each, then timed.
    encoded = codec.encode_stream(symbols, bits, args.max_code_length)
    out = np.empty(n, dtype=np.uint8)
    codec.decode_stream(encoded, bits, out=out)
    if not np.array_equal(out, symbols):
        raise RuntimeError(f"{name}: deepcomp's stream does not decode to its symbols")
    encode_s, _ = timed(lambda: codec.encode_stream(symbols, bits, args.max_code_length), args.repeats, args.budget)
    decode_s, _ = timed(lambda: codec.decode_stream(encoded, bits, out=out), args.repeats, args.budget)
    row.update(deepcomp_bits=8 * len(encoded) / n, deepcomp_encode_mbs=mbs(n, encode_s),
               deepcomp_decode_mbs=mbs(n, decode_s))

    raw = symbols.tobytes()
    compressor = zstandard.ZstdCompressor(level=args.zstd_level)
    decompressor = zstandard.ZstdDecompressor()
    compress_s, compressed = timed(lambda: compressor.compress(raw), args.repeats, args.budget)
    decompress_s, restored = timed(lambda: decompressor.decompress(compressed), args.repeats, args.budget)
    if restored != raw:
        raise RuntimeError(f"{name}: zstd round trip failed")
    row.update(zstd_bits=8 * len(compressed) / n, zstd_compress_mbs=mbs(n, compress_s),
               zstd_decompress_mbs=mbs(n, decompress_s))

    prefix = raw[:args.dahuffman_symbols]
    huffman = dahuffman.HuffmanCodec.from_data(prefix)
    dah_encode_s, dah_encoded = timed(lambda: huffman.encode(prefix), args.repeats, args.budget)
    dah_decode_s, dah_decoded = timed(lambda: huffman.decode(dah_encoded), args.repeats, args.budget)
    if bytes(dah_decoded) != prefix:
        raise RuntimeError(f"{name}: dahuffman round trip failed")
    row.update(dahuffman_symbols=len(prefix), dahuffman_bits=8 * len(dah_encoded) / len(prefix),
               dahuffman_encode_mbs=mbs(len(prefix), dah_encode_s),
               dahuffman_decode_mbs=mbs(len(prefix), dah_decode_s))
    return row


# ---------------------------------------------------------------------------------------------
# Report


def goals(row: dict) -> dict:
    reachable = row["optimal_prefix_bits"] - row["entropy"] <= GOAL_ENTROPY_GAP
    gap = row["deepcomp_bits"] - row["entropy"]
    return {"encode_ratio": row["deepcomp_encode_mbs"] / GOAL_ENCODE_MBS,
            "decode_ratio": row["deepcomp_decode_mbs"] / GOAL_DECODE_MBS,
            "entropy_gap_met": (gap <= GOAL_ENTROPY_GAP) if reachable else None}


def print_report(rows: list, notes: list, args) -> None:
    print(f"Huffman streams, 1 thread, median of up to {args.repeats} runs ({args.budget:g} s budget each); "
          f"deepcomp max code length {args.max_code_length}; zstd level {args.zstd_level}; "
          f"dahuffman on the first {args.dahuffman_symbols:,} symbols of each stream")
    for note in notes:
        print(note)
    print()
    header = ("stream", "symbols", "entropy", "deepcomp b/s", "gap", "enc MB/s", "dec MB/s",
              "zstd b/s", "zstd c MB/s", "zstd d MB/s", "dahuffman b/s*", "dah enc MB/s*", "dah dec MB/s*")
    table = [(r["stream"], f"{r['symbols']:,}", f"{r['entropy']:.3f}", f"{r['deepcomp_bits']:.3f}",
              f"{r['deepcomp_bits'] - r['entropy']:+.3f}", f"{r['deepcomp_encode_mbs']:.0f}",
              f"{r['deepcomp_decode_mbs']:.0f}", f"{r['zstd_bits']:.3f}", f"{r['zstd_compress_mbs']:.1f}",
              f"{r['zstd_decompress_mbs']:.0f}", f"{r['dahuffman_bits']:.3f}",
              f"{r['dahuffman_encode_mbs']:.1f}", f"{r['dahuffman_decode_mbs']:.2f}") for r in rows]
    print(format_table(header, table))
    print("(b/s: bits per symbol. deepcomp's include its stream header; dahuffman's exclude its code table.\n"
          f" * dahuffman (pure Python) ran on a prefix of at most {args.dahuffman_symbols:,} symbols.)")
    print(f"\ngoals (this run): encode >= {GOAL_ENCODE_MBS:.0f} MB/s, decode >= {GOAL_DECODE_MBS:.0f} MB/s, "
          f"within {GOAL_ENTROPY_GAP} bit/symbol of the entropy where a prefix code can be")
    for r in rows:
        g = goals(r)
        if g["entropy_gap_met"] is None:
            size = (f"unreachable: the best prefix code needs {r['optimal_prefix_bits']:.3f} b/s, "
                    f"entropy + {r['optimal_prefix_bits'] - r['entropy']:.3f}")
        else:
            size = "met" if g["entropy_gap_met"] else "NOT met"
        print(f"  {r['stream']}: encode {g['encode_ratio']:.2f}x goal "
              f"({'met' if g['encode_ratio'] >= 1 else 'NOT met'}), decode {g['decode_ratio']:.2f}x goal "
              f"({'met' if g['decode_ratio'] >= 1 else 'NOT met'}), size {size}")


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    streams = synthetic_streams(args.symbols, rng)
    real, note = lenet_streams(args)
    rows = [bench_stream(name, bits, symbols, args) for name, bits, symbols in streams + real]
    notes = [note, "(the LeNet streams are small: their speeds are dominated by per-call overhead)"]
    print_report(rows, notes, args)
    if args.json:
        config = {k: v for k, v in vars(args).items() if k != "json"}
        versions = {"torch": torch.__version__, "numpy": np.__version__, "zstandard": zstandard.__version__,
                    "dahuffman": importlib.metadata.version("dahuffman")}
        with open(args.json, "w") as f:
            json.dump({"config": {**config, **versions}, "notes": notes,
                       "results": [{**r, "goals": goals(r)} for r in rows]}, f, indent=2)


if __name__ == "__main__":
    main()
