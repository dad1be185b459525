"""The LibTorch example examples/cpp/lenet300_fashion_mnist.cpp, run briefly: its .dcz file loads into
a plain PyTorch LeNet-300-100, which gets exactly as many test images right as the C++ program printed.
The program is built with deepcomp's own build (build/cmake/examples/cpp) or named by
DEEPCOMP_LENET300_CPP."""
import contextlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import deepcomp

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = Path(os.environ.get("DEEPCOMP_LENET300_CPP",
                              ROOT / "build" / "cmake" / "examples" / "cpp" / "lenet300_fashion_mnist"))
DATA = Path("/usr/share/datasets/fashion-mnist")
FINAL = re.compile(r"^final test accuracy: (\d\.\d{4}) \((\d+)/(\d+)\)$", re.M)

sys.path.insert(0, str(ROOT / "examples" / "lenet"))
import fashion_mnist  # noqa: E402


class LeNet300(nn.Module):
    """The C++ program's network: its layers are registered as fc1, fc2, fc3, so the state-dict names agree."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 300)
        self.fc2 = nn.Linear(300, 100)
        self.fc3 = nn.Linear(100, 10)

    def forward(self, images):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(images.flatten(1))))))


@contextlib.contextmanager
def single_thread():
    """The C++ program's setting (--threads 1): torch's float32 reductions, among them the data set's
    mean and std, round differently with the thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.mark.skipif(not (DATA / "t10k-images-idx3-ubyte.gz").exists(),
                    reason="needs Debian's dataset-fashion-mnist (scripts/setup.sh installs it)")
def test_the_cpp_programs_file_scores_in_python_what_it_printed(tmp_path):
    if not PROGRAM.exists():
        pytest.fail(f"{PROGRAM} is missing: build it with "
                    "`cmake --build build/cmake --target lenet300_fashion_mnist`")
    path = tmp_path / "lenet300.dcz"
    done = subprocess.run([str(PROGRAM), "--epochs", "2", "--retrain-epochs", "1", "--rounds", "2",
                           "--finetune-epochs", "1", "--train-limit", "10000", "--threads", "1",
                           "--data-root", str(DATA), "--out", str(path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    found = FINAL.findall(done.stdout)
    assert len(found) == 1, done.stdout[-3000:]
    fraction, correct, total = float(found[0][0]), int(found[0][1]), int(found[0][2])
    assert total == 10000 and fraction == round(correct / total, 4)
    assert correct > 5000, done.stdout[-3000:]  # chance is 1000; a brief run still learns
    assert f"saved {path}" in done.stdout

    model = deepcomp.load(path, LeNet300()).eval()
    # The compressed file: sparse codebook indices for every layer, the pruned densities of the paper.
    kinds = {t.name: (t.kind, t.kept_fraction) for t in deepcomp.inspect(path)}
    for name, density in (("fc1", 0.08), ("fc2", 0.09), ("fc3", 0.26)):
        kind, kept = kinds[f"{name}.weight"]
        assert kind == "sparse_codebook" and kept == pytest.approx(density, abs=0.005), name

    with single_thread(), torch.no_grad():
        # The training set's mean and std, as the C++ program computes them (on one thread).
        fashion_mnist._training_stats.cache_clear()
        images, labels = fashion_mnist.load("test", str(DATA))
        # Batches of 1000, as the C++ program evaluates: the same GEMMs round alike.
        python_correct = sum(int((model(x).argmax(dim=1) == y).sum())
                             for x, y in zip(images.split(1000), labels.split(1000)))
    assert python_correct == correct
