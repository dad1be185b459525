"""Forward+backward time of deepcomp's masked layers against dense layers and torch.nn.utils.prune.

For each shape (Linear 784->300 at batch 128, Linear 9216->4096 at batch 32, Conv2d 3x3 256->256
padding 1 on 28x28 at batch 8; and layers whose masked twins run the torch layer's own forward with
the masked weight: Conv1d k3 512->512 on 256 steps at batch 8, Embedding 30000x256 looking up 32x128
tokens, EmbeddingBag 30000x256 averaging 32 bags of 128, self-attention 512 wide with 8 heads over
128 tokens at batch 8, its in_proj_weight pruned) three variants are timed on the same weights and
input:
  dense          the torch layer, unpruned (the baseline);
  deepcomp       its masked twin, pruned to 90% sparsity with deepcomp.prune;
  torch.prune    torch.nn.utils.prune.l1_unstructured(amount=0.9) on a copy of the dense layer.
One iteration is forward, sum loss, backward (a float input requires grad, so every variant computes
the input, weight and bias gradients), grads reset to None. The table gives the median (p10, p90)
in ms and the ratio of the median to the dense median of the same shape; the last lines say
whether deepcomp met its goal (<= 1.10x dense and faster than torch.nn.utils.prune) in this run.

Run from the repository root:  make bench  or  .venv/bin/python benchmarks/bench_pruning.py
(--help for --repeats, --warmup, --threads, --device, --dtype, --json).
"""
import argparse
import copy
import json
import os
import statistics
import time

import torch
import torch.nn.utils.prune as torch_prune

import deepcomp
from deepcomp.report import format_table

SPARSITY = 0.9
GOAL_RATIO = 1.10

class SelfAttention(torch.nn.Module):
    """nn.MultiheadAttention over one sequence (query = key = value); its output only."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.attn = torch.nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x, need_weights=False)[0]


def floats(*shape):
    return lambda device, dtype: torch.randn(shape, device=device, dtype=dtype, requires_grad=True)


def tokens(vocabulary, *shape):
    return lambda device, dtype: torch.randint(0, vocabulary, shape, device=device)


# (name, dense layer factory, input factory (device, dtype))
SHAPES = [
    ("Linear 784->300, batch 128", lambda: torch.nn.Linear(784, 300), floats(128, 784)),
    ("Linear 9216->4096, batch 32", lambda: torch.nn.Linear(9216, 4096), floats(32, 9216)),
    ("Conv2d 3x3 256->256 28x28, batch 8", lambda: torch.nn.Conv2d(256, 256, 3, padding=1), floats(8, 256, 28, 28)),
    ("Conv1d k3 512->512 256 steps, batch 8", lambda: torch.nn.Conv1d(512, 512, 3, padding=1), floats(8, 512, 256)),
    ("Embedding 30000x256, 32x128 tokens", lambda: torch.nn.Embedding(30000, 256), tokens(30000, 32, 128)),
    ("EmbeddingBag 30000x256, 32 bags of 128", lambda: torch.nn.EmbeddingBag(30000, 256), tokens(30000, 32, 128)),
    ("MultiheadAttention 512, 8 heads, 128 tokens, batch 8", lambda: SelfAttention(512, 8), floats(8, 128, 512)),
]


def default_threads() -> int:
    # The CPUs this process may run on (a container's limit), not the machine's core count.
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed iterations per variant (>= 2)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed iterations per variant first")
    parser.add_argument("--threads", type=int, default=default_threads(), help="torch intra-op threads")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32",
                        help="bfloat16 on cuda only")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    if args.repeats < 2 or args.warmup < 0 or args.threads < 1:
        parser.error("need --repeats >= 2, --warmup >= 0, --threads >= 1")
    if args.device == "cuda" and not (torch.cuda.is_available() and deepcomp.built_with_cuda()):
        parser.error("--device cuda needs a CUDA device and a deepcomp built with CUDA")
    if args.dtype == "bfloat16" and args.device != "cuda":
        parser.error("--dtype bfloat16 is for --device cuda")
    return args


def make_variants(dense: torch.nn.Module) -> dict:
    """The three variants, each on its own copy of dense's weights (pruning zeroes weights in place)."""
    # torch.nn.utils.prune recomputes a weight in its module's forward pre-hook, which attention's out_proj
    # never runs (attention reads out_proj.weight itself; a second backward then fails), so both variants
    # prune attention's in_proj_weight only.
    masked = torch.nn.Sequential(copy.deepcopy(dense))  # prune() swaps children, so it needs a container
    deepcomp.prune(masked, sparsity=SPARSITY, exclude=lambda name, module: name.endswith("out_proj"))
    torch_pruned = copy.deepcopy(dense)
    for name, module in torch_pruned.named_modules():
        if isinstance(module, torch.nn.MultiheadAttention):
            torch_prune.l1_unstructured(module, "in_proj_weight", amount=SPARSITY)
        elif "weight" in module._parameters and not name.endswith("out_proj"):
            torch_prune.l1_unstructured(module, "weight", amount=SPARSITY)
    return {"dense": dense, "deepcomp": masked[0], "torch.prune": torch_pruned}


def step(module: torch.nn.Module, x: torch.Tensor) -> None:
    module(x).sum().backward()
    module.zero_grad(set_to_none=True)
    x.grad = None


def time_step(module: torch.nn.Module, x: torch.Tensor, sync) -> float:
    sync()
    start = time.perf_counter()
    step(module, x)
    sync()  # CUDA launches are asynchronous: wait for the kernels, not just their launch
    return time.perf_counter() - start


def bench_shape(make_dense, make_input, args) -> dict:
    """Seconds per iteration for each variant: {variant: [times]}."""
    dtype = getattr(torch, args.dtype)
    dense = make_dense().to(args.device, dtype)
    variants = make_variants(dense)
    x = make_input(args.device, dtype)
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    for _ in range(args.warmup):
        for module in variants.values():
            step(module, x)
    times = {name: [] for name in variants}
    # Round-robin over the variants, so that drift in the machine's speed (other load, clocks)
    # hits every variant alike instead of whichever one happened to run during it.
    for _ in range(args.repeats):
        for name, module in variants.items():
            times[name].append(time_step(module, x, sync))
    return times


def summarize(shape: str, times: dict) -> list:
    """One result row per variant, in ms, with the ratio of medians to dense."""
    rows = []
    for variant, seconds in times.items():
        ms = [1e3 * s for s in seconds]
        deciles = statistics.quantiles(ms, n=10)
        rows.append({"shape": shape, "variant": variant, "median_ms": statistics.median(ms),
                     "p10_ms": deciles[0], "p90_ms": deciles[-1]})
    dense_median = rows[0]["median_ms"]
    for row in rows:
        row["ratio_vs_dense"] = row["median_ms"] / dense_median
    return rows


def verdicts(results: list) -> dict:
    """Per shape: did deepcomp run at <= GOAL_RATIO x dense and faster than torch.nn.utils.prune?"""
    by_shape = {}
    for row in results:
        by_shape.setdefault(row["shape"], {})[row["variant"]] = row
    return {shape: rows["deepcomp"]["ratio_vs_dense"] <= GOAL_RATIO
            and rows["deepcomp"]["median_ms"] < rows["torch.prune"]["median_ms"]
            for shape, rows in by_shape.items()}


def print_report(results: list, met: dict, args) -> None:
    print(f"forward+backward, {args.device} {args.dtype}, {torch.get_num_threads()} threads, "
          f"{args.warmup} warm-up + {args.repeats} timed iterations, sparsity {SPARSITY:.0%}\n")
    rows = [(r["shape"], r["variant"], f"{r['median_ms']:.3f}", f"{r['p10_ms']:.3f}", f"{r['p90_ms']:.3f}",
             f"{r['ratio_vs_dense']:.2f}x") for r in results]
    print(format_table(("shape", "variant", "median ms", "p10 ms", "p90 ms", "vs dense"), rows))
    print(f"\ngoal: deepcomp <= {GOAL_RATIO:.2f}x dense and faster than torch.nn.utils.prune (this run):")
    for shape, ok in met.items():
        print(f"  {shape}: {'met' if ok else 'NOT met'}")


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results = []
    for shape, make_dense, make_input in SHAPES:
        results += summarize(shape, bench_shape(make_dense, make_input, args))
    met = verdicts(results)
    print_report(results, met, args)
    if args.json:
        config = {k: v for k, v in vars(args).items() if k != "json"}
        with open(args.json, "w") as f:
            json.dump({"config": {**config, "torch": torch.__version__, "sparsity": SPARSITY},
                       "results": results, "goal_met": met}, f, indent=2)


if __name__ == "__main__":
    main()
