"""Peak memory of loading a .dcz file: a hostile file (fillers declaring far more elements than its size)
against the decoding limit, and an honest one against the size of its decoded tensors.

Each load runs in a fresh child process; the table gives the child's peak resident memory (VmHWM,
reset after `import deepcomp`) above its resident memory then (the baseline measured in the same
run), and the ratio to the decoded tensors' bytes (element count × dtype size). The loaded tensors
are touched once (a copy), since pages of zeros may not be resident until written; that copy is in
the peak, so a loader that made no copy of its own would show 2.0x:
  hostile, default limit   a fully pruned float64 tensor, ~2,000 elements per file byte: refused up front;
  hostile, limit raised    the same file with max_bytes high enough to decode it;
  honest                   a pruned and quantized Linear 4096x4096 (the decoded size is its fp32 weight).
The goal (issue "Untrusted files"): hostile under the default limit <= the limit; an honest load's
own peak <= 1.5x decoded (here: the "vs decoded" figure less the 1.0 of the touching copy).

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
import sys
import deepcomp

def status(field):  # kB
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets the peak (VmHWM) to the memory now
base = status("VmRSS")
try:
    state = deepcomp.load(sys.argv[1], max_bytes=None if sys.argv[2] == "default" else int(sys.argv[2]))
    state = {name: tensor + 0 for name, tensor in state.items()}  # touch every page (zeros may be lazy)
    outcome = "loaded"
except deepcomp.FormatError as error:
    outcome = "refused: " + str(error).split(": ", 2)[-1][:60]
print(base, status("VmHWM"), outcome)
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
