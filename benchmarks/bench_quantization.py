"""Time and error of deepcomp's weight-sharing k-means, and forward+backward time of its shared layers.

Part kmeans (single thread): 1-D k-means of N float32 weights into k = 2^bits centroids, for N in
--sizes (1e6, 1e7, 1e8) and bits in --bits (5, 8: k = 32, 256). The weights are drawn like trained
ones, a narrow bell with heavy tails: 0.02 x Student-t with 3 degrees of freedom (seeded torch.randn,
t = z / sqrt(chi2_3 / 3)). Four methods cluster the same weights:
  deepcomp lloyd    deepcomp.ops.kmeans_quantize(w, None, bits, init="linear", method="lloyd");
  deepcomp exact    the same with method="exact";
  sklearn           scikit-learn KMeans(k, init=linspace(min, max, k), n_init=1, algorithm="lloyd",
                    max_iter=300, tol=--sklearn-tol, default scikit-learn's own 1e-4) on w as (N, 1)
                    float32, only where N <= --sklearn-max;
  kmeans1d          kmeans1d.cluster(w, k), the optimal 1-D k-means, only where N <= --kmeans1d-max
                    (kmeans1d 0.5.0 keeps k x N tables: about 16 k N bytes, 4 GB at N = 1e6, k = 256).
Each is timed --repeats times (median in seconds; sklearn's init and kmeans1d's input list are made
before the clock starts), deepcomp's after --warmup untimed runs. Every method's SSE, the sum over the weights of (w - its centroid)^2, is
computed alike in float64 by torch from the method's centroids and assignments, and reported
relative to the optimum: kmeans1d's SSE where it ran, else deepcomp exact's (that row's reference
cell is marked *). The lines below the table say whether deepcomp met its goals in this run: lloyd
>= 100x faster than scikit-learn (where scikit-learn ran), the SSE of lloyd and of exact within 0.1%
of optimal (exact only where kmeans1d ran, else it is its own reference), 1e8 weights in <= 10 s
(lloyd). Nothing is extrapolated: a reference that did not run says so.

Part layers (--threads): forward+backward of SharedLinear (5 bits) / SharedConv2d (8 bits) made with
from_dense, unpruned and pruned to 90% with deepcomp.prune first, against the dense layer, on the
shapes of bench_pruning.py and with its timing (one iteration: forward, sum, backward with the input
requiring grad; round-robin over the variants). The table gives the dense median in ms and each
shared variant's median over it; the goal is <= 1.30x dense for both.

Run from the repository root (the default run takes several minutes on a 2-core CPU):
  .venv/bin/pip install -r benchmarks/requirements.txt
  .venv/bin/python benchmarks/bench_quantization.py
(--help for --part, --sizes, --bits, --sklearn-max, --kmeans1d-max, --repeats, --threads, --json).
"""
import os

# Before numpy, torch and scikit-learn load their OpenMP and BLAS runtimes: the k-means part is
# single-threaded (the layers part sets torch's threads explicitly).
os.environ["OMP_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import kmeans1d  # noqa: E402
import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import deepcomp  # noqa: E402
from bench_pruning import SHAPES, SPARSITY, default_threads, step, summarize, time_step  # noqa: E402
from common import count  # noqa: E402
from deepcomp.report import format_table  # noqa: E402

T_DOF, T_SCALE = 3, 0.02  # the weights: T_SCALE x Student-t with T_DOF degrees of freedom
CHUNK = 1 << 22  # weights generated and SSE-summed per chunk, so 1e8 weights need no float64 copy
GOAL_SPEEDUP = 100.0  # deepcomp lloyd vs scikit-learn
GOAL_SSE_PCT = 0.1  # above the optimal SSE
GOAL_LARGE_N, GOAL_LARGE_S = 100_000_000, 10.0  # deepcomp lloyd on that many weights within that many s
GOAL_LAYER_RATIO = 1.30  # shared layers vs dense
LAYER_BITS = {torch.nn.Linear: (deepcomp.nn.SharedLinear, 5), torch.nn.Conv2d: (deepcomp.nn.SharedConv2d, 8)}
METHODS = {"deepcomp lloyd": "lloyd", "deepcomp exact": "exact", "sklearn": "sklearn", "kmeans1d": "kmeans1d"}
NOT_RUN = "not run (N > cap)"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["kmeans", "layers", "all"], default="all", help="which tables")
    parser.add_argument("--sizes", type=count, nargs="+", default=[10 ** 6, 10 ** 7, 10 ** 8], metavar="N",
                        help="numbers of weights for the k-means part")
    parser.add_argument("--bits", type=int, nargs="+", default=[5, 8], choices=range(1, 9),
                        help="k-means codebook bits (k = 2^bits)")
    parser.add_argument("--sklearn-max", type=count, default=10 ** 6, metavar="N",
                        help="run scikit-learn only where N <= this (it takes tens of seconds at 1e6)")
    parser.add_argument("--sklearn-tol", type=float, default=1e-4,
                        help="scikit-learn KMeans tol (its default; 0 runs to max_iter or no change)")
    parser.add_argument("--kmeans1d-max", type=count, default=10 ** 6, metavar="N",
                        help="run kmeans1d only where N <= this (minutes, and about 16 k N bytes of memory)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per k-means method")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed deepcomp runs first (its first call on new sizes pays for fresh memory); "
                             "the references, which run for seconds to minutes, are not warmed up")
    parser.add_argument("--layer-repeats", type=int, default=15, help="timed iterations per layer (>= 2)")
    parser.add_argument("--layer-warmup", type=int, default=3, help="untimed iterations per layer first")
    parser.add_argument("--threads", type=int, default=default_threads(), help="torch threads, layers part")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    if min(args.repeats, args.layer_repeats - 1, args.threads) < 1 or min(args.warmup, args.layer_warmup) < 0:
        parser.error("need --repeats >= 1, --warmup >= 0, --layer-repeats >= 2, --layer-warmup >= 0, "
                     "--threads >= 1")
    if min(args.sizes) < 2 ** max(args.bits):
        parser.error("need every --sizes >= 2^bits (at least one weight per centroid)")
    return args


def make_weights(n: int, seed: int) -> torch.Tensor:
    """n float32 weights, T_SCALE x Student-t(T_DOF), from a seeded generator, CHUNK at a time."""
    gen = torch.Generator().manual_seed(seed)
    w = torch.empty(n)
    for chunk in w.split(CHUNK):
        z = torch.randn(chunk.numel(), generator=gen)
        chi2 = torch.randn(T_DOF, chunk.numel(), generator=gen).square_().sum(0)
        torch.mul(z, chi2.div_(T_DOF).rsqrt_(), out=chunk).mul_(T_SCALE)
    return w


def sse(w: torch.Tensor, centroids: torch.Tensor, assignment: torch.Tensor) -> float:
    """Sum over the weights of (w - centroids[assignment])^2, in float64."""
    centroids = centroids.to(torch.float64)
    return sum((wc.to(torch.float64) - centroids[ac.long()]).square_().sum().item()
               for wc, ac in zip(w.split(CHUNK), assignment.split(CHUNK)))


def timed(fn, repeats: int):
    """(median seconds over repeats calls of fn, fn's last result)."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def run_deepcomp(w: torch.Tensor, bits: int, method: str, repeats: int, warmup: int):
    run = lambda: deepcomp.ops.kmeans_quantize(w, None, bits, init="linear", method=method)  # noqa: E731
    for _ in range(warmup):
        run()
    seconds, (codebook, indices) = timed(run, repeats)
    return seconds, codebook, indices


def run_sklearn(w: torch.Tensor, k: int, tol: float, repeats: int):
    init = np.linspace(w.min().item(), w.max().item(), k, dtype=np.float32).reshape(k, 1)
    model = KMeans(n_clusters=k, init=init, n_init=1, algorithm="lloyd", max_iter=300, tol=tol)
    with threadpool_limits(1):
        seconds, fitted = timed(lambda: model.fit(w.numpy().reshape(-1, 1)), repeats)
    return seconds, torch.from_numpy(fitted.cluster_centers_[:, 0]), torch.from_numpy(fitted.labels_)


def run_kmeans1d(w: torch.Tensor, k: int, repeats: int):
    values = w.tolist()
    seconds, (clusters, centroids) = timed(lambda: kmeans1d.cluster(values, k), repeats)
    return seconds, torch.tensor(centroids, dtype=torch.float64), torch.tensor(clusters)


def bench_kmeans_row(w: torch.Tensor, bits: int, args) -> dict:
    """One (N, k): {method: {"seconds", "sse"} or None where not run}, and the reference method."""
    n, k = w.numel(), 2 ** bits
    runs = {"deepcomp lloyd": run_deepcomp(w, bits, "lloyd", args.repeats, args.warmup),
            "deepcomp exact": run_deepcomp(w, bits, "exact", args.repeats, args.warmup),
            "sklearn": run_sklearn(w, k, args.sklearn_tol, args.repeats) if n <= args.sklearn_max else None,
            "kmeans1d": run_kmeans1d(w, k, args.repeats) if n <= args.kmeans1d_max else None}
    methods = {name: None if run is None else {"seconds": run[0], "sse": sse(w, run[1], run[2])}
               for name, run in runs.items()}
    reference = "kmeans1d" if methods["kmeans1d"] else "deepcomp exact"
    for result in filter(None, methods.values()):
        result["sse_vs_opt_pct"] = 100 * (result["sse"] / methods[reference]["sse"] - 1)
    sklearn_run, lloyd = methods["sklearn"], methods["deepcomp lloyd"]
    speedup = sklearn_run["seconds"] / lloyd["seconds"] if sklearn_run else None
    return {"n": n, "k": k, "methods": methods, "reference": reference, "lloyd_speedup_vs_sklearn": speedup}


def bench_kmeans(args) -> list:
    torch.set_num_threads(1)
    rows = []
    for n in args.sizes:
        w = make_weights(n, args.seed)
        for bits in args.bits:
            rows.append(bench_kmeans_row(w, bits, args))
        del w  # before the next, larger one is made
    return rows


def kmeans_goals(rows: list) -> dict:
    """Each goal: {"met": True/False, or None where this run measured nothing for it, "detail"}."""
    def goal(values, at_least, limit, fmt, missing):
        if not values:
            return {"met": None, "detail": f"not measured ({missing})"}
        worst = min(values) if at_least else max(values)
        return {"met": worst >= limit if at_least else worst <= limit,
                "detail": f"worst {fmt.format(worst)} of {len(values)}"}

    lloyd = [r["methods"]["deepcomp lloyd"] for r in rows]
    return {
        f"deepcomp lloyd >= {GOAL_SPEEDUP:.0f}x faster than scikit-learn": goal(
            [r["lloyd_speedup_vs_sklearn"] for r in rows if r["lloyd_speedup_vs_sklearn"]],
            True, GOAL_SPEEDUP, "{:.1f}x", "scikit-learn did not run"),
        f"deepcomp lloyd SSE within {GOAL_SSE_PCT}% of optimal": goal(
            [m["sse_vs_opt_pct"] for m in lloyd], False, GOAL_SSE_PCT, "{:+.3f}%", "no rows"),
        f"deepcomp exact SSE within {GOAL_SSE_PCT}% of optimal (where kmeans1d ran)": goal(
            [r["methods"]["deepcomp exact"]["sse_vs_opt_pct"] for r in rows if r["reference"] == "kmeans1d"],
            False, GOAL_SSE_PCT, "{:+.3f}%", "kmeans1d did not run"),
        f"deepcomp lloyd on {GOAL_LARGE_N:,} weights in <= {GOAL_LARGE_S:.0f} s": goal(
            [m["seconds"] for m, r in zip(lloyd, rows) if r["n"] == GOAL_LARGE_N],
            False, GOAL_LARGE_S, "{:.2f} s", f"{GOAL_LARGE_N:,} not in --sizes"),
    }


def print_kmeans_report(rows: list, goals: dict, args) -> None:
    print(f"1-D k-means, 1 thread, median of {args.repeats} run(s); weights {T_SCALE} x Student-t "
          f"({T_DOF} dof), seed {args.seed}; lloyd, exact: deepcomp.ops.kmeans_quantize(init=\"linear\", "
          f"method=...); scikit-learn tol {args.sklearn_tol:g}\n")
    table = []
    for r in rows:
        seconds, errors = [], []
        for name in METHODS:
            m = r["methods"][name]
            mark = "*" if name == r["reference"] else ""
            seconds.append(NOT_RUN if m is None else f"{m['seconds']:.3f}")
            errors.append(NOT_RUN if m is None else f"{m['sse_vs_opt_pct']:+.3f}%{mark}")
        speedup = r["lloyd_speedup_vs_sklearn"]
        speedup = "-" if speedup is None else f"{speedup:.1f}x"
        table.append((f"{r['n']:,}", r["k"], *seconds, speedup, *errors))
    header = ("N", "k", *(f"{label} s" for label in METHODS.values()), "lloyd vs sklearn",
              *(f"{label} SSE" for label in METHODS.values()))
    print(format_table(header, table))
    print("SSE: above the optimal SSE of the row, the one marked * (kmeans1d's where it ran, else deepcomp "
          "exact's)")
    print(f"cap: --sklearn-max {args.sklearn_max:,}, --kmeans1d-max {args.kmeans1d_max:,}")
    print("\ngoals (this run):")
    for name, result in goals.items():
        status = {True: "met", False: "NOT met", None: "-"}[result["met"]]
        print(f"  {name}: {status}, {result['detail']}")


def make_layer_variants(dense: torch.nn.Module) -> dict:
    """dense, its shared twin and the shared twin of a copy pruned to SPARSITY (dense is unchanged)."""
    shared_type, bits = LAYER_BITS[type(dense)]
    pruned = torch.nn.Sequential(copy.deepcopy(dense))  # prune() swaps children, so it needs a container
    deepcomp.prune(pruned, sparsity=SPARSITY)
    return {"dense": dense, "shared": shared_type.from_dense(dense, bits),
            "pruned+shared": shared_type.from_dense(pruned[0], bits)}


def bench_layer(dense, make_input, args) -> dict:
    """Seconds per iteration for each variant: {variant: [times]}, round-robin as in bench_pruning."""
    variants = make_layer_variants(dense)
    x = make_input("cpu", torch.float32).requires_grad_()
    for _ in range(args.layer_warmup):
        for module in variants.values():
            step(module, x)
    times = {name: [] for name in variants}
    for _ in range(args.layer_repeats):
        for name, module in variants.items():
            times[name].append(time_step(module, x, lambda: None))  # CPU: nothing to synchronize
    return times


def bench_layers(args) -> list:
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results = []
    for shape, make_dense, make_input in SHAPES:
        dense = make_dense()
        if type(dense) in LAYER_BITS:  # bench_pruning's Linear and Conv2d shapes
            results += summarize(shape, bench_layer(dense, make_input, args))
    return results


def by_shape(results: list) -> dict:
    """{shape: {variant: row}}."""
    shapes = {}
    for row in results:
        shapes.setdefault(row["shape"], {})[row["variant"]] = row
    return shapes


def layer_goals(results: list) -> dict:
    """Per shape: did both shared variants run at <= GOAL_LAYER_RATIO x dense?"""
    return {shape: all(rows[v]["ratio_vs_dense"] <= GOAL_LAYER_RATIO for v in ("shared", "pruned+shared"))
            for shape, rows in by_shape(results).items()}


def print_layers_report(results: list, met: dict, args) -> None:
    print(f"forward+backward, cpu float32, {torch.get_num_threads()} threads, {args.layer_warmup} warm-up + "
          f"{args.layer_repeats} timed iterations; shared: Linear {LAYER_BITS[torch.nn.Linear][1]} bits, "
          f"Conv2d {LAYER_BITS[torch.nn.Conv2d][1]} bits; pruned: sparsity {SPARSITY:.0%}\n")
    rows = [(shape, f"{v['dense']['median_ms']:.3f}", f"{v['shared']['ratio_vs_dense']:.2f}x",
             f"{v['pruned+shared']['ratio_vs_dense']:.2f}x") for shape, v in by_shape(results).items()]
    print(format_table(("shape", "dense ms", "shared", "pruned+shared"), rows))
    print(f"\ngoal: shared and pruned+shared <= {GOAL_LAYER_RATIO:.2f}x dense (this run):")
    for shape, ok in met.items():
        print(f"  {shape}: {'met' if ok else 'NOT met'}")


def main() -> None:
    args = parse_args()
    report = {}
    if args.part in ("kmeans", "all"):
        rows = bench_kmeans(args)
        goals = kmeans_goals(rows)
        print_kmeans_report(rows, goals, args)
        report["kmeans"] = {"results": rows, "goals": goals}
    if args.part in ("layers", "all"):
        if args.part == "all":
            print()
        results = bench_layers(args)
        met = layer_goals(results)
        print_layers_report(results, met, args)
        report["layers"] = {"results": results, "goal_met": met}
    if args.json:
        config = {k: v for k, v in vars(args).items() if k != "json"}
        versions = {"torch": torch.__version__, "scikit-learn": sklearn.__version__,
                    "kmeans1d": kmeans1d.__version__}
        with open(args.json, "w") as f:
            json.dump({"config": {**config, **versions}, **report}, f, indent=2)


if __name__ == "__main__":
    main()
