"""The end of a run: the .dcz file, the reload check, top-1/top-5 and the per-layer table."""
import json
import os
import sys

import deepcomp
from deepcomp import write_atomically
from networks import layer_densities
from training import evaluate

# The file's per-layer table in the paper's Table 2-5 columns, as the LeNet examples print it.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lenet"))
from tables import paper_table  # noqa: E402


def finish(run, build_plain, command: str, seconds: float) -> dict:
    """Rank 0 writes <out>/<arch>.dcz; every rank loads it into a plain network (build_plain()) and
    evaluates its share (float32); rank 0 writes summary.json and summary.md. Exits if the reloaded model
    scores differently from the fine-tuned one: the file must hold exactly the evaluated weights."""
    args, runtime = run.args, run.runtime
    path = os.path.join(args.out, f"{args.arch}.dcz")
    if runtime.main:
        deepcomp.save(run.model, path)
    runtime.barrier()
    file_report = deepcomp.inspect(path)
    # In float32 whatever --amp says: the two networks compute with the same weights in the same dtype.
    finetuned = evaluate(run.model, run.val_loader, "none", args.val_steps, runtime)
    reloaded = evaluate(deepcomp.load(path, build_plain()).to(runtime.device), run.val_loader, "none",
                        args.val_steps, runtime)
    if reloaded != finetuned:
        raise SystemExit(f"error: the model reloaded from {path} scores top-1/top-5 {reloaded}, "
                         f"the fine-tuned one {finetuned}")
    summary = {"arch": args.arch, "classes": len(args.classes), "ranks": runtime.world,
               "top1": reloaded[0], "top5": reloaded[1], "file": path, "file_bytes": file_report.file_bytes,
               "dense_bytes": file_report.dense_bytes, "compression_rate": file_report.rate,
               "layers": layer_rows(run), "epochs": run.history, "file_report": file_report.to_dict(),
               "command": command, "seconds": seconds}
    if runtime.main:
        runtime.log(f"\n{layers_markdown(summary)}\n\n{paper_table(file_report.to_dict())}\n")
        runtime.log(f"{args.arch}: {path}, {file_report.file_bytes} bytes ({file_report.rate:.1f}x smaller than "
                    f"dense fp32); reloaded: top-1 {100 * reloaded[0]:.2f}%, top-5 {100 * reloaded[1]:.2f}%")
        write_atomically(os.path.join(args.out, "summary.json"), (json.dumps(summary, indent=2) + "\n").encode())
        write_atomically(os.path.join(args.out, "summary.md"), summary_markdown(summary, file_report).encode())
    return summary


def layer_rows(run) -> list:
    """Per layer: paper name, module, fraction kept (and the paper's), codebook bits."""
    densities = layer_densities(run.model, run.names)
    return [{"layer": name, "module": module, "kept": densities[name], "paper_kept": run.args.densities[name],
             "bits": run.bits[module]} for name, module in run.names.items()]


def layers_markdown(summary: dict) -> str:
    lines = ["| layer | module | weights kept | paper | bits |", "|---|---|---|---|---|"]
    lines += [f"| {r['layer']} | {r['module']} | {100 * r['kept']:.1f}% | {100 * r['paper_kept']:.0f}% | {r['bits']} |"
              for r in summary["layers"]]
    return "\n".join(lines)


def summary_markdown(summary: dict, file_report) -> str:
    return "\n".join([
        f"# {summary['arch']}: Deep Compression on {summary['classes']} classes, {summary['ranks']} rank(s)",
        "",
        f"Top-1 {100 * summary['top1']:.2f}%, top-5 {100 * summary['top5']:.2f}% (the .dcz file loaded into a "
        f"plain network); {summary['file_bytes']} bytes, {summary['compression_rate']:.1f}x smaller than "
        "dense fp32.",
        "",
        layers_markdown(summary),
        "",
        paper_table(file_report.to_dict()),
        "",
        f"Command: `{summary['command']}` ({summary['seconds']:.0f} s).",
        "",
    ])
