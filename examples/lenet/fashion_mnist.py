"""Fashion-MNIST from Debian's dataset-fashion-mnist package (gzipped idx files), as torch tensors.

    images, labels = fashion_mnist.load("train")   # 60000x1x28x28 float32, 60000 int64
    images, labels = fashion_mnist.load("test")    # 10000x1x28x28 float32, 10000 int64

Images are scaled to [0, 1], then normalised with the training set's mean and std (for both
splits, so the test set sees exactly the transform the model was trained with).
"""
import functools
import gzip
import os
import struct
from typing import Tuple

import torch

DEFAULT_ROOT = "/usr/share/datasets/fashion-mnist"

_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}

# idx magic number: two zero bytes, a type code (0x08: unsigned byte), the number of dimensions.
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801


def load(split: str, root: str = DEFAULT_ROOT) -> Tuple[torch.Tensor, torch.Tensor]:
    """(images N×1×28×28 float32, normalised; labels N int64) of split "train" or "test"."""
    if split not in _FILES:
        raise ValueError(f"fashion_mnist.load: split must be one of {sorted(_FILES)}, got {split!r}")
    images_file, labels_file = _FILES[split]
    images = _read_idx(os.path.join(root, images_file), _IMAGES_MAGIC)
    labels = _read_idx(os.path.join(root, labels_file), _LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"fashion_mnist: {images_file} has {images.shape[0]} images but "
                         f"{labels_file} has {labels.shape[0]} labels")
    mean, std = _training_stats(root)
    return (_scale(images) - mean) / std, labels.long()


@functools.lru_cache(maxsize=None)
def _training_stats(root: str) -> Tuple[float, float]:
    images = _scale(_read_idx(os.path.join(root, _FILES["train"][0]), _IMAGES_MAGIC))
    return images.mean().item(), images.std().item()


def _scale(images: torch.Tensor) -> torch.Tensor:
    return images.unsqueeze(1).float().div_(255.0)


def _read_idx(path: str, expected_magic: int) -> torch.Tensor:
    """The uint8 array stored in a gzipped idx file, shaped as its header says."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"fashion_mnist: {path} not found; install the data set with "
                                "`sudo apt-get install dataset-fashion-mnist` or pass another root")
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise ValueError(f"fashion_mnist: {path} is too short to be an idx file")
    (magic,) = struct.unpack(">I", data[:4])
    if magic != expected_magic:
        raise ValueError(f"fashion_mnist: {path} has idx magic number {magic:#010x}, "
                         f"expected {expected_magic:#010x}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", data[4:header])
    count = 1
    for size in shape:
        count *= size
    if len(data) - header != count:
        raise ValueError(f"fashion_mnist: {path} should hold {count} bytes of data after its header "
                         f"(shape {shape}), but holds {len(data) - header}")
    # bytearray: torch.frombuffer wants a writable buffer, and the tensor then owns its memory.
    return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8).reshape(shape)
