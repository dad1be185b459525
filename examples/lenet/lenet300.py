"""LeNet-300-100 on Fashion-MNIST through Deep Compression's three stages (the paper's Table 2).

Train the 784-300-100-10 MLP dense, prune it toward the paper's densities (fc1 8 %, fc2 9 %, fc3
26 % kept) with retraining, quantize to 5-bit codebooks and fine-tune the centroids, then
Huffman-code it into results/lenet300/lenet300.dcz and reload that into a plain model (see
pipeline.py for the steps, the baseline and the outputs). About a minute on one CPU core.

    make demo                                    # or, from the repository root:
    .venv/bin/python examples/lenet/lenet300.py [--epochs 8 --retrain-epochs 2 ...]

Needs Debian's dataset-fashion-mnist package (see fashion_mnist.py).
"""
from torch import nn

import pipeline


def lenet_300_100() -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                         nn.Linear(100, 10))


NETWORK = pipeline.Network("lenet300", lenet_300_100, densities=(0.08, 0.09, 0.26), epochs=8)

if __name__ == "__main__":
    pipeline.main(NETWORK, __doc__, "make demo")
