"""Traces a small pruned and quantized network for examples/cpp/run_traced.cpp: a SharedConv2d, a
SharedLinear and a CompressedLinear, so the traced graph calls deepcomp's ops.
    python examples/cpp/trace_for_cpp.py OUTDIR   # writes OUTDIR/model.pt, input.pt, expected.pt
"""
import sys
from pathlib import Path

import torch
import torch.nn as nn

import deepcomp
from deepcomp.nn import CompressedLinear


def main(out: Path) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(6 * 12 * 12, 64),
                          nn.ReLU(), nn.Linear(64, 10)).eval()
    deepcomp.prune(model, sparsity=0.8)
    deepcomp.quantize(model)
    model[6] = CompressedLinear.from_shared(model[6])
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        traced = torch.jit.trace(model, (x,))
        expected = model(x)
    out.mkdir(parents=True, exist_ok=True)
    traced.save(str(out / "model.pt"))
    torch.save(x, out / "input.pt")
    torch.save(expected, out / "expected.pt")
    print(f"{out}: model.pt (traced; deepcomp ops: "
          f"{sorted({node.kind() for node in traced.inlined_graph.nodes() if node.kind().startswith('deepcomp::')})}"
          "), input.pt, expected.pt")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python examples/cpp/trace_for_cpp.py OUTDIR")
    main(Path(sys.argv[1]))
