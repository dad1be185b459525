"""LeNet-300-100 on Fashion-MNIST: train dense, prune to ~8% of the weights, quantize to 5 bits,
Huffman-code into a .dcz file.

The three stages of Deep Compression (Han et al., ICLR 2016) on the paper's smallest network, on CPU:
train the 784-300-100-10 MLP dense, then prune it in several rounds toward the paper's per-layer
densities (fc1 8%, fc2 9%, fc3 26% kept), retraining between rounds, and finish with a retraining
epoch at a smaller learning rate. Then quantize every layer's surviving weights to a codebook of
2^5 centroids (the paper's width for fully connected layers) and fine-tune the centroids. Finally
save the model to <out>/lenet300.dcz (Huffman-coded indices and relative gaps), load the file into
a fresh plain LeNet-300-100 and check that it scores exactly what the fine-tuned model scored.
Prints the test accuracy at each stage, the per-layer tables (the file's with its real size and
compression rate) and the wall time, and writes them to <out>/summary.json.

    make demo                                    # or, from the repository root:
    .venv/bin/python examples/lenet/lenet300.py [--epochs 8 --retrain-epochs 2 ...]

Needs Debian's dataset-fashion-mnist package (see fashion_mnist.py).
"""
import argparse
import json
import os
import time

import torch
import torch.nn.functional as F
from torch import nn

import deepcomp
import fashion_mnist

# Fraction of weights kept per Linear layer, in order: the paper's LeNet-300-100 (Table 2).
PAPER_DENSITIES = (0.08, 0.09, 0.26)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=8, help="dense training epochs")
    parser.add_argument("--retrain-epochs", type=int, default=2, help="retraining epochs after each pruning round")
    parser.add_argument("--rounds", type=int, default=4, help="pruning rounds toward the final sparsity")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (momentum 0.9), dense")
    parser.add_argument("--retrain-lr", type=float, default=0.02, help="SGD learning rate between pruning rounds")
    parser.add_argument("--final-lr", type=float, default=0.002,
                        help="learning rate of the last dense epoch and of the last retraining epoch")
    parser.add_argument("--bits", type=int, default=5, help="codebook bits per layer (the paper: 5 for fc)")
    parser.add_argument("--finetune-epochs", type=int, default=2, help="centroid fine-tuning epochs")
    parser.add_argument("--finetune-lr", type=float, default=1e-4, help="Adam learning rate of the centroids")
    parser.add_argument("--seed", type=int, default=0)
    # One thread: this MLP's matrices are too small to gain from a second one, and torch's OpenMP
    # threads spin-wait, so with two on a two-core machine that is also busy, training ran 10x slower.
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1)")
    parser.add_argument("--data-root", default=fashion_mnist.DEFAULT_ROOT)
    parser.add_argument("--out", default="results/lenet300", help="directory for summary.json and lenet300.dcz")
    return parser.parse_args()


def lenet_300_100() -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                         nn.Linear(100, 10))


def layer_sparsities(model: nn.Module) -> dict:
    """{qualified name: fraction to prune} for the model's Linear layers, from the paper's densities."""
    names = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    return {name: 1.0 - density for name, density in zip(names, PAPER_DENSITIES, strict=True)}


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
    return (model(images).argmax(dim=1) == labels).float().mean().item()


def learning_rate(args, epoch: int, epochs: int) -> float:
    """Each phase, dense and pruned, ends with an epoch at --final-lr, so that the dense accuracy
    we compare against is that of an annealed model too, not of one still at a high learning rate."""
    if epoch in (args.epochs - 1, epochs - 1):
        return args.final_lr
    return args.lr if epoch < args.epochs else args.retrain_lr


def set_lr(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def train_and_prune(args, model, train, test):
    """Dense epochs, then a pruning round every --retrain-epochs epochs, then one final epoch.

    Returns (dense accuracy, pruned accuracy, last PruneReport, epochs run). The schedule sees every
    epoch: its first round falls at the end of the last dense epoch, so no epoch is spent
    "retraining" a model that has not been pruned yet.
    """
    schedule = deepcomp.PruningSchedule(model, sparsity=layer_sparsities(model), steps=args.rounds,
                                        every=args.retrain_epochs, start=args.epochs - 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    generator = torch.Generator().manual_seed(args.seed)
    # The last round is followed by its --retrain-epochs epochs and one more at --final-lr.
    epochs = args.epochs + args.rounds * args.retrain_epochs + 1
    dense_acc, report = None, None
    for epoch in range(epochs):
        set_lr(optimizer, learning_rate(args, epoch, epochs))
        began = time.perf_counter()
        loss = train_epoch(model, optimizer, *train, args.batch_size, generator)
        acc = accuracy(model, *test)
        seconds = time.perf_counter() - began
        if epoch == args.epochs - 1:
            dense_acc = acc
        pruned = schedule.step()
        kept = ""
        if pruned is not None:
            report = pruned
            kept = f", pruned to {100 * pruned.kept_fraction:.2f}% kept"
        print(f"epoch {epoch + 1:2d}/{epochs}  {seconds:4.1f} s  loss {loss:.4f}  test acc {100 * acc:.2f}%{kept}",
              flush=True)
    return dense_acc, acc, report, epochs


def quantize_and_finetune(args, model, train, test):
    """Stage 2: cluster each layer's surviving weights, then fine-tune the codebooks (and biases).

    Returns (QuantizeReport, accuracy right after quantizing, accuracy after fine-tuning)."""
    report = deepcomp.quantize(model, bits=args.bits)
    quantized_acc = accuracy(model, *test)
    print(f"quantized to {args.bits} bits: test acc {100 * quantized_acc:.2f}%", flush=True)
    # A centroid's gradient sums those of all its weights; Adam's step does not grow with that sum.
    optimizer = torch.optim.Adam(model.parameters(), lr=args.finetune_lr)
    generator = torch.Generator().manual_seed(args.seed + 1)
    acc = quantized_acc
    for epoch in range(args.finetune_epochs):
        began = time.perf_counter()
        loss = train_epoch(model, optimizer, *train, args.batch_size, generator)
        acc = accuracy(model, *test)
        print(f"centroid fine-tuning {epoch + 1}/{args.finetune_epochs}  {time.perf_counter() - began:4.1f} s  "
              f"loss {loss:.4f}  test acc {100 * acc:.2f}%", flush=True)
    return report, quantized_acc, acc


def save_and_reload(args, model, test, finetuned_acc):
    """Stage 3: the model to a .dcz file, and the file into a fresh plain LeNet-300-100.

    Returns (FileReport, accuracy of the reloaded model); exits if that accuracy differs from the
    fine-tuned model's, since the file must hold exactly the weights that were evaluated."""
    path = os.path.join(args.out, "lenet300.dcz")
    os.makedirs(args.out, exist_ok=True)
    report = deepcomp.save(model, path)
    reloaded = deepcomp.load(path, lenet_300_100())
    reloaded_acc = accuracy(reloaded, *test)
    print(f"saved {path}: {report.file_bytes} bytes; reloaded into a plain model: test acc {100 * reloaded_acc:.2f}%",
          flush=True)
    if reloaded_acc != finetuned_acc:
        raise SystemExit(f"lenet300: the reloaded model scores {100 * reloaded_acc:.2f}%, "
                         f"the fine-tuned one {100 * finetuned_acc:.2f}%")
    return report, reloaded_acc


def write_json_atomically(path: str, data: dict) -> None:
    """Readers never see a half-written file: write a temporary file beside it, then rename."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"  # same directory, so os.replace is an atomic rename
    try:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main() -> None:
    args = parse_args()
    if args.epochs < 1 or args.retrain_epochs < 1 or args.rounds < 1 or args.finetune_epochs < 0:
        raise SystemExit("lenet300: --epochs, --retrain-epochs and --rounds must be >= 1, --finetune-epochs >= 0")
    start = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train = fashion_mnist.load("train", args.data_root)
    test = fashion_mnist.load("test", args.data_root)
    model = lenet_300_100()

    dense_acc, pruned_acc, report, epochs = train_and_prune(args, model, train, test)
    quantize_report, quantized_acc, finetuned_acc = quantize_and_finetune(args, model, train, test)
    file_report, reloaded_acc = save_and_reload(args, model, test, finetuned_acc)
    seconds = time.perf_counter() - start

    print(f"\nfinal pruning round ({report.total_kept} of {report.total_weights} weights kept):\n{report}\n")
    print(f"quantization ({args.bits} bits, linear init):\n{quantize_report}\n")
    print(f"compressed file ({file_report.file_bytes} bytes on disk, {file_report.dense_bytes} bytes dense fp32: "
          f"{file_report.rate:.1f}x smaller):\n{file_report}\n")
    for stage, acc in (("dense", dense_acc), ("pruned", pruned_acc), ("quantized", quantized_acc),
                       ("centroids fine-tuned", finetuned_acc), ("reloaded from the .dcz file", reloaded_acc)):
        print(f"{stage + ' test accuracy:':43s} {100 * acc:.2f}% ({100 * (acc - dense_acc):+.2f} points)")
    print(f"wall time: {seconds:.1f} s")
    write_json_atomically(os.path.join(args.out, "summary.json"), {
        "dense_accuracy": dense_acc, "pruned_accuracy": pruned_acc, "kept_fraction": report.kept_fraction,
        "quantized_accuracy": quantized_acc, "finetuned_accuracy": finetuned_acc, "reloaded_accuracy": reloaded_acc,
        "file_bytes": file_report.file_bytes, "compression_rate": file_report.rate,
        "report": report.to_dict(), "quantize_report": quantize_report.to_dict(),
        "file_report": file_report.to_dict(), "epochs": epochs,
        "seconds": seconds, "settings": vars(args),
    })


if __name__ == "__main__":
    main()
