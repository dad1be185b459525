"""Post-training compression of a network trained on Fashion-MNIST here: a small transformer encoder
(encoder.py) or a ResNet-18-shaped network (resnet.py). Every option of deepcomp for a model one cannot
afford to retrain, measured as file bytes against the quality of the model's output (its pooled
embedding: mean cosine to the original's over the test set) and accuracy, then one short fine-tune.

    python examples/post_training/post_training.py --network transformer   # ~2 minutes on 2 cores
    python examples/post_training/post_training.py --network resnet --epochs 2 --train-limit 20000  # ~8 minutes
    python examples/post_training/post_training.py --epochs 1 --train-limit 5000   # a quick check

Writes OUT/summary.json and OUT/summary.md (default results/<network>)."""
import argparse
import copy
import json
import os
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lenet"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import encoder  # noqa: E402
import fashion_mnist  # noqa: E402
import resnet  # noqa: E402

import deepcomp  # noqa: E402


def batches(tokens, labels, size, shuffle=False, generator=None):
    order = torch.randperm(len(tokens), generator=generator) if shuffle else torch.arange(len(tokens))
    for start in range(0, len(tokens), size):
        index = order[start:start + size]
        yield tokens[index], labels[index]


def train(model, parameters, tokens, labels, epochs, lr, seed):
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.01)
    steps = epochs * ((len(tokens) + 127) // 128)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for x, y in batches(tokens, labels, 128, shuffle=True, generator=generator):
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            schedule.step()
    model.eval()


@torch.no_grad()
def evaluate(model, tokens, labels, reference=None):
    """(accuracy, pooled embeddings, mean cosine to reference's)."""
    model.eval()
    pooled = torch.cat([model.pooled(x) for x, _ in batches(tokens, labels, 1000)])
    accuracy = float((model.head(pooled).argmax(1) == labels).float().mean())
    cosine = float(F.cosine_similarity(pooled, reference).mean()) if reference is not None else 1.0
    return accuracy, pooled, cosine


def file_bytes(model):
    with tempfile.TemporaryDirectory() as folder:
        report = deepcomp.save(model, os.path.join(folder, "model.dcz"))
    return report.file_bytes, report.rate


def widths_for_budget(model, budget_bytes, validation, options, bits=(5, 4, 3, 2)):
    """{layer: bits} for a file of at most budget_bytes: deepcomp.sensitivity measures the validation cosine
    with each layer alone at each width (clustered by deepcomp.quantize's `options`, as it will be), and
    report.bits_for_budget picks the widths of the least summed cosine lost within the budget."""
    with torch.no_grad():
        reference = model.pooled(validation)

    def cosine(m):
        with torch.no_grad():
            return F.cosine_similarity(m.pooled(validation), reference, dim=1).mean()

    report = deepcomp.sensitivity(model, cosine, sparsities=None, bits=bits, progress=False, quantize_options=options)
    return report.bits_for_budget(model, budget_bytes).bits


def widths_without_data(model, budget_bytes, options):
    """{layer: bits} for a file of at most budget_bytes from the weights alone (deepcomp.compress_state's
    max_bytes: the least summed relative squared weight error), for comparison."""
    _, _, report = deepcomp.compress_state(model.state_dict(), max_bytes=budget_bytes, **options)
    return {row.name: row.bits for row in report.layers}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--network", choices=["transformer", "resnet"], default="transformer")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-limit", type=int, default=None)
    parser.add_argument("--test-limit", type=int, default=None, help="test images measured (default: all 10000)")
    parser.add_argument("--calibration", type=int, default=512, help="training images the statistics see")
    parser.add_argument("--finetune-epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="default: results/<network>")
    args = parser.parse_args()
    args.out = args.out or os.path.join("results", args.network)
    inputs, build = {"transformer": (encoder.tokenize, encoder.Encoder),
                     "resnet": (resnet.inputs, resnet.ResNet)}[args.network]
    torch.manual_seed(args.seed)
    started = time.time()

    images, labels = fashion_mnist.load("train")
    test_images, test_labels = fashion_mnist.load("test")
    if args.train_limit:
        images, labels = images[:args.train_limit], labels[:args.train_limit]
    if args.test_limit:
        test_images, test_labels = test_images[:args.test_limit], test_labels[:args.test_limit]
    tokens, test_tokens = inputs(images), inputs(test_images)  # what the network reads
    model = build()
    train(model, model.parameters(), tokens, labels, args.epochs, 3e-3, args.seed)
    accuracy, reference, _ = evaluate(model, test_tokens, test_labels)
    fp32_bytes = 4 * sum(p.numel() for p in model.state_dict().values())
    print(f"trained: test accuracy {accuracy:.4f}, {fp32_bytes} fp32 bytes")

    calibration = deepcomp.calibrate(model, [x for x, _ in batches(tokens[:args.calibration], labels, 128)])
    rows = []

    def measure(name, compress):
        compressed = copy.deepcopy(model)
        compress(compressed)
        size, rate = file_bytes(compressed)
        acc, _, cosine = evaluate(compressed, test_tokens, test_labels, reference)
        rows.append({"option": name, "file_bytes": size, "rate": rate, "cosine": cosine, "accuracy": acc})
        print(f"{name:58s} {size:8d} B {rate:6.2f}x  cosine {cosine:.4f}  accuracy {acc:.4f}")
        return compressed

    measure("fp32 (saved raw)", lambda m: None)
    for sparsity in (0.5,):
        measure(f"prune {sparsity:.0%} by magnitude", lambda m: deepcomp.prune(m, sparsity=sparsity))
        measure(f"prune {sparsity:.0%} by activation (calibrated)",
                lambda m: deepcomp.prune(m, sparsity=sparsity, criterion="activation", calibration=calibration))
    if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        # Pruning changes what each BatchNorm sees; torch re-estimates its statistics in one pass.
        measure("prune 50% by activation, BatchNorm statistics re-estimated", lambda m: (
            deepcomp.prune(m, sparsity=0.5, criterion="activation", calibration=calibration),
            torch.optim.swa_utils.update_bn([x for x, _ in batches(tokens[:args.calibration], labels, 128)], m)))
    for bits in (8, 5, 4, 3):
        measure(f"quantize {bits} bits, k-means", lambda m: deepcomp.quantize(m, bits=bits))
        measure(f"quantize {bits} bits, k-means weighted by calibration",
                lambda m: deepcomp.quantize(m, bits=bits, weights=calibration))
        measure(f"quantize {bits} bits, exact k-means weighted by calibration",
                lambda m: deepcomp.quantize(m, bits=bits, weights=calibration, method="exact"))
    measure("the default widths (Linear 5, others 8 bits), weighted", lambda m: deepcomp.quantize(m, weights=calibration))
    # Per-group codebooks against one per layer, all by exact k-means; the file bytes count the extra codebooks.
    for bits in (4, 3):
        measure(f"quantize {bits} bits, exact k-means", lambda m: deepcomp.quantize(m, bits=bits, method="exact"))
        for group_size in (16, 4):
            measure(f"quantize {bits} bits, exact k-means, a codebook per {group_size} channels",
                    lambda m: deepcomp.quantize(m, bits=bits, method="exact", group_size=group_size))
        measure(f"quantize {bits} bits, exact k-means weighted, a codebook per 16 channels",
                lambda m: deepcomp.quantize(m, bits=bits, method="exact", group_size=16, weights=calibration))

    # Mixed widths for a file size, chosen on training images (not the test set); one codebook per layer
    # against per-group codebooks in a file of the same budget.
    validation = tokens[-args.calibration:]
    for name, options in (("", {"method": "exact"}),
                          (", a codebook per 16 channels", {"method": "exact", "group_size": 16})):
        measure(f"mixed 2 to 5 bits by sensitivity (exact k-means){name}, a file of at most fp32 / 8",
                lambda m: deepcomp.quantize(m, bits=widths_for_budget(model, fp32_bytes / 8, validation, options),
                                            **options))
    measure("mixed 2 to 8 bits by weight error alone, no data (exact k-means), a file of at most fp32 / 8",
            lambda m: deepcomp.quantize(m, bits=widths_without_data(model, fp32_bytes / 8, {"method": "exact"}),
                                        method="exact"))

    def pruned_and_quantized(m, bits=4):
        deepcomp.prune(m, sparsity=0.5, criterion="activation", calibration=calibration)
        deepcomp.quantize(m, bits=bits, weights=deepcomp.calibrate(m, [x for x, _ in batches(
            tokens[:args.calibration], labels, 128)]))

    compressed = measure("prune 50% by activation, then 4 bits weighted", pruned_and_quantized)
    # A short fine-tune of the codebooks (and the raw normalisation and bias parameters) on the training set.
    train(compressed, compressed.parameters(), tokens, labels, args.finetune_epochs, 1e-3, args.seed + 1)
    size, rate = file_bytes(compressed)
    acc, _, cosine = evaluate(compressed, test_tokens, test_labels, reference)
    rows.append({"option": f"... then {args.finetune_epochs} epoch(s) of fine-tuning", "file_bytes": size,
                 "rate": rate, "cosine": cosine, "accuracy": acc})
    print(f"{rows[-1]['option']:58s} {size:8d} B {rate:6.2f}x  cosine {cosine:.4f}  accuracy {acc:.4f}")

    os.makedirs(args.out, exist_ok=True)
    names = {"transformer": "transformer encoder (2 blocks, dim 64, 4 heads) on Fashion-MNIST tokens",
             "resnet": "ResNet-18-shaped network (16-128 channels, grouped 3x3 convolutions) on Fashion-MNIST"}
    summary = {"network": names[args.network],
               "command": "python examples/post_training/post_training.py " + " ".join(sys.argv[1:]),
               "trained_accuracy": accuracy, "fp32_bytes": fp32_bytes, "calibration_images": args.calibration,
               "rows": rows, "seconds": round(time.time() - started, 1)}
    with open(os.path.join(args.out, "summary.json"), "w") as stream:
        json.dump(summary, stream, indent=2)
    lines = ["| option | file bytes | rate | mean cosine | accuracy |", "|---|---|---|---|---|"]
    lines += [f"| {r['option']} | {r['file_bytes']:,} | {r['rate']:.2f}× | {r['cosine']:.4f} | {r['accuracy']:.4f} |"
              for r in rows]
    with open(os.path.join(args.out, "summary.md"), "w") as stream:
        stream.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}/summary.json and summary.md in {summary['seconds']} s")


if __name__ == "__main__":
    main()
