"""LeNet-5 on Fashion-MNIST through Deep Compression's three stages (the paper's Table 3).

Caffe's LeNet-5 (conv 20 5x5, max-pool 2, conv 50 5x5, max-pool 2, fc 500, ReLU, fc 10), trained
dense, pruned toward the paper's densities (conv1 66 %, conv2 12 %, fc1 8 %, fc2 19 % kept) with
retraining, quantized (8 bits conv, 5 bits fc) with centroid fine-tuning, Huffman-coded into
results/lenet5/lenet5.dcz and reloaded into a plain model (see pipeline.py). 15-30 minutes on a
2-core CPU (docs/results.md).

    make lenet5                                  # or, from the repository root:
    .venv/bin/python examples/lenet/lenet5.py [--epochs 6 --threads 2 ...]

Needs Debian's dataset-fashion-mnist package (see fashion_mnist.py).
"""
from torch import nn

import pipeline


def lenet5() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(50 * 4 * 4, 500), nn.ReLU(), nn.Linear(500, 10))


# Without batch norm or a ReLU between the convolutions, SGD at LeNet-300-100's 0.05 diverges.
NETWORK = pipeline.Network("lenet5", lenet5, densities=(0.66, 0.12, 0.08, 0.19), epochs=6, lr=0.01,
                           retrain_lr=0.005, final_lr=0.0005)

if __name__ == "__main__":
    pipeline.main(NETWORK, __doc__, "make lenet5")
