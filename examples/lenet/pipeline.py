"""The paper's three stages on a LeNet and Fashion-MNIST, shared by lenet300.py and lenet5.py.

1. Train dense for --epochs, then prune in --rounds rounds toward the network's per-layer densities
   (the paper's, Tables 2 and 3), retraining --retrain-epochs between rounds and one more epoch at
   --final-lr after the last round.
2. Quantize each layer's kept weights (8 bits conv, 5 bits fc by default) and fine-tune the
   centroids for --finetune-epochs.
3. Save the model to <out>/<name>.dcz, load the file into a fresh plain network and check that it
   scores exactly what the fine-tuned model scored.

The baseline is the same network trained dense with the same budget: the dense model at the end of
stage 1's dense epochs, trained on (same schedule, no pruning) for as many epochs as the pipeline
ran after that point. Prints the per-layer tables and writes <out>/summary.json and
<out>/summary.md (the paper's Table 1 row and Table 2/3-style per-layer table); with the default
--out, also docs/results.md's tables (results_doc.py).
"""
import argparse
import copy
import json
import os
import shlex
import sys
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

import deepcomp
from deepcomp import write_atomically  # readers of results/ never see half a file
import fashion_mnist
import results_doc
import tables


@dataclass
class Network:
    name: str
    build: Callable[[], nn.Module]
    # Fraction of weights kept per prunable layer, in model order (the paper's).
    densities: Sequence[float]
    epochs: int  # default dense epochs
    lr: float = 0.05  # default SGD learning rates: dense, between pruning rounds, last epochs
    retrain_lr: float = 0.02
    final_lr: float = 0.002


def parse_args(network: Network, doc: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=network.epochs, help="dense training epochs")
    parser.add_argument("--retrain-epochs", type=int, default=2, help="retraining epochs after each pruning round")
    parser.add_argument("--rounds", type=int, default=4, help="pruning rounds toward the final densities")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=network.lr, help="SGD learning rate (momentum 0.9), dense")
    parser.add_argument("--retrain-lr", type=float, default=network.retrain_lr,
                        help="SGD learning rate between pruning rounds")
    parser.add_argument("--final-lr", type=float, default=network.final_lr,
                        help="learning rate of the last dense epoch and of the last retraining epoch")
    parser.add_argument("--density-scale", type=float, default=1.0,
                        help="multiplies every layer's kept fraction (below 1: prune harder than the paper)")
    parser.add_argument("--conv-bits", type=int, default=8, help="codebook bits of conv layers (the paper: 8)")
    parser.add_argument("--fc-bits", type=int, default=5, help="codebook bits of fully connected layers (the paper: 5)")
    parser.add_argument("--finetune-epochs", type=int, default=2, help="centroid fine-tuning epochs")
    parser.add_argument("--finetune-lr", type=float, default=1e-4, help="Adam learning rate of the centroids")
    parser.add_argument("--train-limit", type=int, default=None, help="use only this many training images (smoke runs)")
    parser.add_argument("--seed", type=int, default=0)
    # One thread by default: torch's OpenMP threads spin-wait, and on a two-core machine that is also
    # busy, training with two ran 10x slower.
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    parser.add_argument("--data-root", default=fashion_mnist.DEFAULT_ROOT)
    parser.add_argument("--out", default=f"results/{network.name}", help="directory for the .dcz file and summaries")
    args = parser.parse_args()
    if min(args.epochs, args.retrain_epochs, args.rounds) < 1 or args.finetune_epochs < 0:
        parser.error("--epochs, --retrain-epochs and --rounds must be >= 1, --finetune-epochs >= 0")
    if not 0 < args.density_scale <= 1 / max(network.densities):
        parser.error(f"--density-scale must be in (0, {1 / max(network.densities):.2f}]")
    return args


def prunable_layers(model: nn.Module) -> list:
    return [name for name, module in model.named_modules() if isinstance(module, (nn.Linear, nn.Conv2d))]


def layer_sparsities(network: Network, model: nn.Module, scale: float) -> dict:
    """{qualified name: fraction to prune} for the model's Linear and Conv2d layers."""
    return {name: 1.0 - scale * density
            for name, density in zip(prunable_layers(model), network.densities, strict=True)}


def layer_bits(model: nn.Module, args) -> dict:
    return {name: args.conv_bits if isinstance(module, nn.Conv2d) else args.fc_bits
            for name, module in model.named_modules() if isinstance(module, (nn.Linear, nn.Conv2d))}


def train_epoch(model, optimizer, images, labels, batch_size, generator) -> float:
    """One pass over the data in a fresh random order; returns the mean training loss."""
    model.train()
    order = torch.randperm(len(images), generator=generator)
    total = 0.0
    for batch in order.split(batch_size):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images[batch]), labels[batch])
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
    return total / len(images)


@torch.no_grad()
def accuracy(model, images, labels) -> float:
    model.eval()
    correct = sum((model(x).argmax(dim=1) == y).sum().item() for x, y in zip(images.split(1000), labels.split(1000)))
    return correct / len(images)


def set_lr(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def run_epochs(label, model, optimizer, epochs, lr_of, train, test, args, generator, after_epoch=None) -> float:
    """Trains `epochs` epochs (learning rate lr_of(epoch)); after_epoch(epoch) may return a note.
    Returns the last test accuracy."""
    acc = accuracy(model, *test)
    for epoch in range(epochs):
        set_lr(optimizer, lr_of(epoch))
        began = time.perf_counter()
        loss = train_epoch(model, optimizer, *train, args.batch_size, generator)
        acc = accuracy(model, *test)
        note = after_epoch(epoch) if after_epoch else ""
        print(f"{label} {epoch + 1:2d}/{epochs}  {time.perf_counter() - began:5.1f} s  loss {loss:.4f}  "
              f"test acc {100 * acc:.2f}%{note or ''}", flush=True)
    return acc


def prune_and_retrain(network, args, model, train, test, generator):
    """Pruning rounds with retraining; returns (last PruneReport, accuracy, epochs run)."""
    schedule = deepcomp.PruningSchedule(model, sparsity=layer_sparsities(network, model, args.density_scale),
                                        steps=args.rounds, every=args.retrain_epochs, start=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.retrain_lr, momentum=0.9)
    epochs = args.rounds * args.retrain_epochs + 1
    reports = []

    def prune_round(epoch):
        report = schedule.step() if epoch < epochs - 1 else None
        if report is not None:
            reports.append(report)
            return f", pruned to {100 * report.kept_fraction:.2f}% kept"

    # Round 1 prunes the dense model before any retraining.
    reports.append(schedule.step())
    print(f"pruned to {100 * reports[-1].kept_fraction:.2f}% kept", flush=True)
    acc = run_epochs("retrain", model, optimizer, epochs,
                     lambda e: args.final_lr if e == epochs - 1 else args.retrain_lr,
                     train, test, args, generator, prune_round)
    return reports[-1], acc, epochs


def quantize_and_finetune(args, model, train, test, generator):
    """Stage 2: cluster each layer's kept weights, then fine-tune the codebooks (and biases).
    Returns (QuantizeReport, accuracy right after quantizing, accuracy after fine-tuning)."""
    report = deepcomp.quantize(model, bits=layer_bits(model, args))
    quantized_acc = accuracy(model, *test)
    print(f"quantized ({args.conv_bits} bits conv, {args.fc_bits} bits fc): test acc {100 * quantized_acc:.2f}%",
          flush=True)
    # A centroid's gradient sums those of all its weights; Adam's step does not grow with that sum.
    optimizer = torch.optim.Adam(model.parameters(), lr=args.finetune_lr)
    acc = run_epochs("centroid fine-tuning", model, optimizer, args.finetune_epochs, lambda e: args.finetune_lr,
                     train, test, args, generator)
    return report, quantized_acc, acc


def save_and_reload(network, args, model, test, finetuned_acc):
    """Stage 3: the model to a .dcz file, and the file into a fresh plain network. Returns
    (FileReport, accuracy of the reloaded model); exits if that accuracy differs from the fine-tuned
    model's, since the file must hold exactly the weights that were evaluated."""
    path = os.path.join(args.out, f"{network.name}.dcz")
    os.makedirs(args.out, exist_ok=True)
    report = deepcomp.save(model, path)
    reloaded_acc = accuracy(deepcomp.load(path, network.build()), *test)
    print(f"saved {path}: {report.file_bytes} bytes; reloaded into a plain model: test acc {100 * reloaded_acc:.2f}%",
          flush=True)
    if reloaded_acc != finetuned_acc:
        raise SystemExit(f"{network.name}: the reloaded model scores {100 * reloaded_acc:.2f}%, "
                         f"the fine-tuned one {100 * finetuned_acc:.2f}%")
    return report, reloaded_acc


def train_baseline(args, dense_state, network, budget, train, test) -> float:
    """The dense network trained on from the end of the dense phase for `budget` more epochs (the
    pipeline's retraining schedule, no pruning): the baseline with the same budget."""
    model = network.build()
    model.load_state_dict(dense_state)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.retrain_lr, momentum=0.9)
    generator = torch.Generator().manual_seed(args.seed + 2)
    return run_epochs("dense baseline", model, optimizer, budget,
                      lambda e: args.final_lr if e >= budget - 1 - args.finetune_epochs else args.retrain_lr,
                      train, test, args, generator)


def summary_markdown(network, summary) -> str:
    return "\n".join([
        f"# {network.name} on Fashion-MNIST",
        "",
        *tables.SUMMARY_HEADER,
        tables.summary_row(network.name, summary),
        "",
        "Dense: the same network trained dense with the same number of epochs. Compressed: the .dcz file "
        "loaded into a plain network. Dense size: 4 bytes per parameter; file size: the file on disk.",
        "",
        tables.paper_table(summary["file_report"]),
        "",
        tables.accuracies(summary),
        "",
    ])


def main(network: Network, doc: str, default_command: str) -> None:
    args = parse_args(network, doc)
    # The summary names what reproduces it: the make target, or this run's own options.
    command = default_command if len(sys.argv) == 1 else shlex.join(["python", *sys.argv])
    start = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train = fashion_mnist.load("train", args.data_root)
    if args.train_limit is not None:
        train = (train[0][:args.train_limit], train[1][:args.train_limit])
    test = fashion_mnist.load("test", args.data_root)
    model = network.build()
    generator = torch.Generator().manual_seed(args.seed)

    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    dense_acc = run_epochs("dense", model, optimizer, args.epochs,
                           lambda e: args.final_lr if e == args.epochs - 1 else args.lr, train, test, args, generator)
    dense_state = copy.deepcopy(model.state_dict())
    prune_report, pruned_acc, retrain_epochs = prune_and_retrain(network, args, model, train, test, generator)
    quantize_report, quantized_acc, finetuned_acc = quantize_and_finetune(args, model, train, test, generator)
    file_report, reloaded_acc = save_and_reload(network, args, model, test, finetuned_acc)
    baseline_acc = train_baseline(args, dense_state, network, retrain_epochs + args.finetune_epochs, train, test)
    seconds = time.perf_counter() - start

    print(f"\nfinal pruning round ({prune_report.total_kept} of {prune_report.total_weights} weights kept):\n"
          f"{prune_report}\n")
    print(f"quantization:\n{quantize_report}\n")
    print(f"compressed file ({file_report.file_bytes} bytes on disk, {file_report.dense_bytes} bytes dense fp32: "
          f"{file_report.rate:.1f}x smaller):\n{file_report}\n")
    for stage, acc in (("dense (end of dense phase)", dense_acc), ("dense, same budget (baseline)", baseline_acc),
                       ("pruned", pruned_acc), ("quantized", quantized_acc), ("centroids fine-tuned", finetuned_acc),
                       ("reloaded from the .dcz file", reloaded_acc)):
        print(f"{stage + ' test accuracy:':45s} {100 * acc:.2f}% ({100 * (acc - baseline_acc):+.2f} points)")
    print(f"wall time: {seconds:.1f} s")
    summary = {
        "network": network.name, "dense_phase_accuracy": dense_acc, "baseline_accuracy": baseline_acc,
        "pruned_accuracy": pruned_acc, "kept_fraction": prune_report.kept_fraction,
        "quantized_accuracy": quantized_acc, "finetuned_accuracy": finetuned_acc, "reloaded_accuracy": reloaded_acc,
        "dense_bytes": file_report.dense_bytes, "file_bytes": file_report.file_bytes,
        "compression_rate": file_report.rate, "prune_report": prune_report.to_dict(),
        "quantize_report": quantize_report.to_dict(), "file_report": file_report.to_dict(), "seconds": seconds,
        "command": command, "settings": vars(args),
    }
    write_atomically(os.path.join(args.out, "summary.json"), (json.dumps(summary, indent=2) + "\n").encode())
    write_atomically(os.path.join(args.out, "summary.md"), summary_markdown(network, summary).encode())
    if os.path.realpath(args.out) == os.path.realpath(results_doc.ROOT / "results" / network.name):
        results_doc.update()  # docs/results.md's tables follow the committed summaries
