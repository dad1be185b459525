"""An ImageNet folder layout (train/ and val/, one folder of images per class) with the usual
transforms, split across the ranks of a distributed run."""
import os
from typing import List, Tuple

import torch
import torchvision.transforms as T
from torch.utils.data import DataLoader, DistributedSampler, Subset
from torchvision.datasets import ImageFolder

# The ImageNet training set's per-channel mean and standard deviation (torchvision's pretrained models').
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def image_folders(root: str, image_size: int) -> Tuple[ImageFolder, ImageFolder]:
    """(train, val) ImageFolders under root; raises SystemExit with one clear line if either is
    missing, empty, or the two do not have the same class folders."""
    train_transform = T.Compose([T.RandomResizedCrop(image_size), T.RandomHorizontalFlip(), T.ToTensor(),
                                 T.Normalize(MEAN, STD)])
    # Resize to 256 and crop 224 at full size: the usual evaluation crop, scaled with image_size.
    val_transform = T.Compose([T.Resize(image_size * 256 // 224), T.CenterCrop(image_size), T.ToTensor(),
                               T.Normalize(MEAN, STD)])
    folders = []
    for split, transform in (("train", train_transform), ("val", val_transform)):
        path = os.path.join(root, split)
        if not os.path.isdir(path):
            raise SystemExit(f"error: no folder {path!r}: --data must hold train/ and val/, one folder per class")
        try:
            folders.append(ImageFolder(path, transform))
        except (FileNotFoundError, RuntimeError) as error:  # no class folders, or a class without images
            raise SystemExit(f"error: {path}: {error}") from None
    train, val = folders
    if train.classes != val.classes:
        only_train = sorted(set(train.classes) - set(val.classes))
        only_val = sorted(set(val.classes) - set(train.classes))
        raise SystemExit(f"error: train/ and val/ under {root!r} have different class folders "
                         f"(only in train/: {only_train[:5]}, only in val/: {only_val[:5]})")
    return train, val


def train_loader(dataset, batch_size: int, workers: int, rank: int, world: int, seed: int) -> DataLoader:
    """Each rank's shard of a fresh shuffle per epoch (sampler.set_epoch), the same for a resumed run."""
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=True)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, drop_last=True,
                      persistent_workers=False)


def val_loader(dataset, batch_size: int, workers: int, rank: int, world: int) -> DataLoader:
    """Every rank's own images: rank, rank + world, ...: each image counted once (no padding)."""
    shard: List[int] = list(range(rank, len(dataset), world))
    return DataLoader(Subset(dataset, shard), batch_size=batch_size, shuffle=False, num_workers=workers)


def topk_correct(logits: torch.Tensor, labels: torch.Tensor, ks=(1, 5)) -> List[int]:
    """How many rows have the label among their k highest logits, for each k (k capped at the classes)."""
    top = logits.topk(min(max(ks), logits.size(1)), dim=1).indices
    hits = top == labels[:, None]
    return [int(hits[:, :k].any(dim=1).sum()) for k in ks]
