"""examples/imagenet/compress.py on a tiny generated ImageFolder: torchvision's real AlexNet (under
bfloat16 autocast) and VGG-16 through every stage on 2 gloo ranks, a run killed and resumed that ends
bit-identical to an uninterrupted one, and one clear line for bad input."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

torchvision = pytest.importorskip("torchvision")
from PIL import Image  # noqa: E402  (torchvision's dependency)

pytestmark = pytest.mark.slow  # each runs the example on real AlexNet / VGG-16 layers
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "imagenet" / "compress.py"
CLASSES = 3
# The smallest inputs the networks take (AlexNet's pools need 63 pixels), and a few images per class.
IMAGE_SIZE = {"alexnet": 64, "vgg16": 32}
# One step of everything: one pruning round with one retraining epoch, one fine-tuning epoch.
SMOKE = ["--rounds", "1", "--retrain-epochs", "1", "--finetune-epochs", "1", "--steps-per-epoch", "1",
         "--val-steps", "1", "--batch-size", "2", "--workers", "0", "--device", "cpu", "--threads", "1"]
ENV = {**os.environ, "PYTHONPATH": "", "OMP_NUM_THREADS": "1"}


def make_image_folder(root: Path, size: int, classes: int = CLASSES, per_class: int = 4) -> Path:
    """train/ and val/ with `classes` folders of small random PNGs, each class its own brightness."""
    generator = torch.Generator().manual_seed(0)
    for split in ("train", "val"):
        for label in range(classes):
            folder = root / split / f"class{label}"
            folder.mkdir(parents=True)
            for i in range(per_class):
                pixels = torch.rand(size, size, 3, generator=generator) * 80 + label * 80
                Image.fromarray(pixels.to(torch.uint8).numpy()).save(folder / f"{i}.png")
    return root


def pretrained(path: Path, arch: str, classes: int = CLASSES) -> Path:
    torch.manual_seed(0)
    torch.save(getattr(torchvision.models, arch)(num_classes=classes).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def alexnet_data(tmp_path_factory):
    root = make_image_folder(tmp_path_factory.mktemp("alexnet_data"), IMAGE_SIZE["alexnet"])
    return root, pretrained(root / "alexnet.pt", "alexnet")


def compress(*args, ranks: int = 1) -> list:
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}"]
                if ranks > 1 else [sys.executable])
    return launcher + [str(SCRIPT), *map(str, args)]


def run(command, timeout=900) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=timeout)


@pytest.mark.parametrize("arch,amp", [("alexnet", "bfloat16"), ("vgg16", "none")])
def test_every_stage_on_two_gloo_ranks(tmp_path, arch, amp):
    data = make_image_folder(tmp_path / "data", IMAGE_SIZE[arch])
    weights = pretrained(tmp_path / f"{arch}.pt", arch)
    out = tmp_path / "out"
    done = run(compress("--arch", arch, "--data", data, "--pretrained", weights, "--out", out,
                        "--image-size", IMAGE_SIZE[arch], "--amp", amp, *SMOKE, ranks=2))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # Both decisions reached every rank intact (each check hashes every tensor on both ranks).
    assert done.stdout.count("state identical on 2 rank(s)") == 2, done.stdout[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ranks"] == 2 and summary["classes"] == CLASSES
    assert summary["file_bytes"] == (out / f"{arch}.dcz").stat().st_size
    assert summary["compression_rate"] > 10
    paper = {row["layer"]: (row["kept"], row["paper_kept"]) for row in summary["layers"]}
    assert all(abs(kept - target) < 0.005 for kept, target in paper.values()), paper
    assert [epoch["stage"] for epoch in summary["epochs"]] == ["prune", "finetune"]
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["stage"] == "finetune" and len(state["rng"]) == 2
    assert "rate (P+Q+H)" in (out / "summary.md").read_text()


def test_killed_and_resumed_run_ends_with_the_same_weights(tmp_path, alexnet_data):
    data, weights = alexnet_data
    # Pruning by the paper's threshold rule: no sort of AlexNet's 57 M weights, so the three runs are quick.
    thresholds = ",".join(f"{layer}=1.0" for layer in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"))
    args = ["--arch", "alexnet", "--data", data, "--pretrained", weights, "--image-size", 64, *SMOKE,
            "--rounds", "2", "--sensitivity", thresholds, "--deterministic"]
    whole = run(compress(*args, "--out", tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr[-3000:]

    # Killed (SIGKILL: no clean-up) as soon as the first epoch's checkpoint is there.
    out = tmp_path / "killed"
    process = subprocess.Popen(compress(*args, "--out", out), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=ENV)
    while not (out / "checkpoint.pt").exists() and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (out / "alexnet.dcz").exists()

    resumed = run(compress(*args, "--out", out, "--resume"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed at prune epoch 1" in resumed.stdout
    assert (out / "alexnet.dcz").read_bytes() == (tmp_path / "whole" / "alexnet.dcz").read_bytes()
    final = [torch.load(path / "checkpoint.pt", weights_only=True) for path in (out, tmp_path / "whole")]
    assert final[0]["model"].keys() == final[1]["model"].keys()
    for name, tensor in final[0]["model"].items():
        assert torch.equal(tensor, final[1]["model"][name]), name
    assert [leftover for leftover in os.listdir(out) if leftover.endswith(".tmp")] == []


def test_bad_input_gives_one_clear_line(tmp_path, alexnet_data):
    data, weights = alexnet_data
    resnet_weights = pretrained(tmp_path / "resnet18.pt", "resnet18")
    other_classes = pretrained(tmp_path / "alexnet10.pt", "alexnet", classes=10)
    mismatched = make_image_folder(tmp_path / "mismatched", 64)
    (mismatched / "val" / "class2").rename(mismatched / "val" / "other")
    cases = {
        "no folder": (tmp_path / "missing", weights, "no folder"),
        "another network's weights": (data, resnet_weights, "does not hold alexnet's weights"),
        "another number of classes": (data, other_classes, "classifies 10 classes"),
        "train/ and val/ disagree": (mismatched, weights, "different class folders"),
    }
    for case, (folder, checkpoint, message) in cases.items():
        done = run(compress("--arch", "alexnet", "--data", folder, "--pretrained", checkpoint,
                            "--out", tmp_path / "out", "--image-size", 64, *SMOKE))
        assert done.returncode != 0, case
        assert "Traceback" not in done.stderr and message in done.stderr, (case, done.stderr[-2000:])
        assert len(done.stderr.strip().splitlines()) == 1, (case, done.stderr)
