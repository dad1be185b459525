"""Deep Compression of torchvision's AlexNet or VGG-16 on an ImageNet folder, stage by stage.

From a local checkpoint (--pretrained: a state dict; nothing is downloaded): prune toward per-layer
targets (the paper's densities by default) in --rounds rounds, retraining --retrain-epochs after each;
quantize (8 bits conv, 5 bits fc); fine-tune the centroids for --finetune-epochs; save <out>/<arch>.dcz;
reload it into a plain network and report top-1/top-5 and the per-layer table (<out>/summary.json,
<out>/summary.md). Runs alone or under torchrun (DDP: NCCL on GPUs, gloo on CPU); pruning and
quantization are decided on rank 0 and broadcast, and every rank's state is checked by hashing.
<out>/checkpoint.pt is written atomically at every epoch and stage boundary; --resume continues from it.
"""
import argparse
import os
import shlex
import sys
import time

import torch
from tqdm import tqdm

import checkpoint
import data
import runtime as runtimes
from networks import ARCHITECTURES, paper_names
from report import finish
from stages import Run
from training import AMP_DTYPES


def layer_values(text: str) -> dict:
    """'conv1=0.5,fc6=0.1' -> {'conv1': 0.5, 'fc6': 0.1}."""
    try:
        return {name.strip(): float(value) for name, value in (item.split("=") for item in text.split(","))}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LAYER=VALUE[,LAYER=VALUE...], got {text!r}") from None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), required=True)
    parser.add_argument("--data", required=True, help="folder with train/ and val/, one subfolder per class")
    parser.add_argument("--pretrained", required=True, help="state dict of the trained network (torch.save)")
    parser.add_argument("--out", required=True, help="folder for checkpoint.pt, <arch>.dcz and the summaries")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt if it exists")
    parser.add_argument("--density", type=layer_values, default=None,
                        help="kept fractions overriding the paper's, e.g. conv1=0.9,fc6=0.1")
    parser.add_argument("--sensitivity", type=layer_values, default=None,
                        help="prune by the paper's rule instead, |w| < s x std, only the named layers, "
                             "e.g. fc6=1.0,fc7=1.0")
    parser.add_argument("--rounds", type=int, default=3, help="pruning rounds toward the targets")
    parser.add_argument("--retrain-epochs", type=int, default=1, help="retraining epochs after each round")
    parser.add_argument("--finetune-epochs", type=int, default=1, help="centroid fine-tuning epochs")
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="train on at most this many batches")
    parser.add_argument("--val-steps", type=int, default=None, help="evaluate on at most this many batches")
    parser.add_argument("--batch-size", type=int, default=64, help="per rank")
    parser.add_argument("--lr", type=float, default=1e-3, help="SGD learning rate of retraining (cosine decay)")
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--finetune-lr", type=float, default=1e-4, help="Adam learning rate of the centroids")
    parser.add_argument("--conv-bits", type=int, default=8)
    parser.add_argument("--fc-bits", type=int, default=5)
    parser.add_argument("--image-size", type=int, default=224, help="training crop (evaluation: the center crop)")
    parser.add_argument("--amp", choices=sorted(AMP_DTYPES), default="none", help="autocast dtype")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--workers", type=int, default=4, help="data loading processes per rank")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--deterministic", action="store_true",
                        help="deterministic kernels only: a resumed run ends with bit-identical weights")
    args = parser.parse_args()
    if args.density and args.sensitivity:
        parser.error("--density and --sensitivity are two ways to set the targets: give one")
    if min(args.rounds, args.retrain_epochs) < 1 or args.finetune_epochs < 0:
        parser.error("--rounds and --retrain-epochs must be >= 1, --finetune-epochs >= 0")
    if args.image_size < ARCHITECTURES[args.arch].min_image_size:
        parser.error(f"--image-size must be at least {ARCHITECTURES[args.arch].min_image_size} for {args.arch}")
    args.densities = ARCHITECTURES[args.arch].densities
    return args


def load_pretrained(model: torch.nn.Module, args) -> None:
    """The --pretrained state dict into model; SystemExit with one line if it does not fit."""
    state = checkpoint.load(args.pretrained)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SystemExit(f"error: {args.pretrained} is not a state dict (a dict of tensors, as torch.save("
                         "model.state_dict()) writes)")
    last = f"{paper_names(args.arch, model)['fc8']}.weight"
    if last in state and state[last].shape[0] != len(args.classes):
        raise SystemExit(f"error: {args.pretrained} classifies {state[last].shape[0]} classes, but {args.data} "
                         f"has {len(args.classes)} class folders")
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise SystemExit(f"error: {args.pretrained} does not hold {args.arch}'s weights: "
                         f"{' '.join(str(error).split())[:400]}") from None


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS's condition for determinism
        torch.use_deterministic_algorithms(True)
    train_set, val_set = data.image_folders(args.data, args.image_size)
    args.classes = train_set.classes
    runtime = runtimes.start(args.device)
    try:
        if args.amp == "float16" and runtime.device.type != "cuda":
            raise SystemExit("error: --amp float16 needs a GPU (its gradient scaling); use bfloat16 on the CPU")
        torch.manual_seed(args.seed + runtime.rank)  # each rank its own augmentation stream
        os.makedirs(args.out, exist_ok=True)
        build = lambda: ARCHITECTURES[args.arch].build(num_classes=len(args.classes))  # noqa: E731
        model = build()
        load_pretrained(model, args)
        model.to(runtime.device)
        loaders = (data.train_loader(train_set, args.batch_size, args.workers, runtime.rank, runtime.world, args.seed),
                   data.val_loader(val_set, args.batch_size, args.workers, runtime.rank, runtime.world))
        run = Run(args, runtime, model, paper_names(args.arch, model), *loaders)
        if args.resume:
            run.resume()
        total = args.rounds * args.retrain_epochs + args.finetune_epochs
        with tqdm(total=total, desc=f"{args.arch} epochs", disable=not runtime.main) as progress:
            run.run(progress)
        finish(run, build, shlex.join([os.path.basename(sys.executable), *sys.argv]), time.perf_counter() - started)
    finally:
        runtimes.stop()


if __name__ == "__main__":
    main()
