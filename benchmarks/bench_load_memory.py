"""Peak memory of loading a .dcz file: a hostile file (fillers declaring far more elements than its size)
against the decoding limit, and an honest one against the size of its decoded tensors.

Each load runs in a fresh child process; the table gives the child's peak resident memory above its
peak right after `import deepcomp` (the baseline measured in the same run), and the ratio to the
decoded tensors' bytes (element count × dtype size):
  hostile, default limit   a fully pruned float64 tensor, ~2,000 elements per file byte: refused up front;
  hostile, limit raised    the same file with max_bytes high enough to decode it;
  honest                   a pruned and quantized Linear 4096x4096 (the decoded size is its fp32 weight).
The goal (issue "Untrusted files"): hostile under the default limit <= the limit, honest <= 1.5x decoded.

Run from the repository root:  .venv/bin/python benchmarks/bench_load_memory.py [--elements N]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import torch

import deepcomp
from deepcomp.nn import MaskedLinear
from deepcomp.report import format_table

CHILD = """
import resource, sys
import deepcomp
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    state = deepcomp.load(sys.argv[1], max_bytes=None if sys.argv[2] == "default" else int(sys.argv[2]))
    outcome = "loaded"
except deepcomp.FormatError as error:
    outcome = "refused: " + str(error).split(": ", 2)[-1][:60]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(base, peak, outcome)
"""


def hostile_file(path: str, elements: int) -> int:
    rows = elements // 4096
    layer = MaskedLinear(4096, rows, bias=False, dtype=torch.float64, device="meta").to_empty(device="cpu")
    with torch.no_grad():
        layer.weight.zero_()
        layer.mask.zero_()
    deepcomp.save(torch.nn.Sequential(layer), path, gap_bits=8)
    return rows * 4096 * 8


def honest_file(path: str) -> int:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4096, 4096, bias=False))
    deepcomp.prune(model, sparsity=0.9)
    deepcomp.quantize(model, bits=5)
    deepcomp.save(model, path)
    return 4096 * 4096 * 4


def measure(path: str, limit: str):
    done = subprocess.run([sys.executable, "-c", CHILD, path, limit], capture_output=True, text=True, check=True)
    base, peak, outcome = done.stdout.split(" ", 2)
    return (int(peak) - int(base)) * 1024, outcome.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=int, default=1 << 27, help="elements the hostile file declares")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        hostile, honest = os.path.join(tmp, "hostile.dcz"), os.path.join(tmp, "honest.dcz")
        cases = [("hostile, default limit", hostile, "default"),
                 ("hostile, limit raised", hostile, str(1 << 40)),
                 ("honest (pruned 90%, 5-bit)", honest, "default")]
        decoded = {hostile: hostile_file(hostile, args.elements), honest: honest_file(honest)}
        for label, path, limit in cases:
            extra, outcome = measure(path, limit)
            rows.append((label, os.path.getsize(path), decoded[path], extra, f"{extra / decoded[path]:.2f}x", outcome))
    print(format_table(("file", "file bytes", "decoded bytes", "peak extra bytes", "vs decoded", "outcome"), rows))


if __name__ == "__main__":
    main()
