"""The two ImageNet networks of the paper, as torchvision builds them, with the paper's per-layer densities."""
from dataclasses import dataclass
from typing import Callable, Dict, Optional

import torch
import torchvision
from torch import nn


@dataclass(frozen=True)
class Architecture:
    build: Callable[..., nn.Module]  # torchvision's builder: build(num_classes=...) -> an untrained network
    # Fraction of weights kept per Conv2d/Linear layer, by the paper's layer names in model order
    # (Deep Compression, Table 4 for AlexNet and Table 5 for VGG-16).
    densities: Dict[str, float]
    min_image_size: int  # smallest input the feature extractor takes (AlexNet's pools need 63 pixels)


ARCHITECTURES = {
    "alexnet": Architecture(torchvision.models.alexnet, {
        "conv1": 0.84, "conv2": 0.38, "conv3": 0.35, "conv4": 0.37, "conv5": 0.37,
        "fc6": 0.09, "fc7": 0.09, "fc8": 0.25}, 63),
    "vgg16": Architecture(torchvision.models.vgg16, {
        "conv1_1": 0.58, "conv1_2": 0.22, "conv2_1": 0.34, "conv2_2": 0.36, "conv3_1": 0.53, "conv3_2": 0.24,
        "conv3_3": 0.42, "conv4_1": 0.32, "conv4_2": 0.27, "conv4_3": 0.34, "conv5_1": 0.35, "conv5_2": 0.29,
        "conv5_3": 0.36, "fc6": 0.04, "fc7": 0.04, "fc8": 0.23}, 32),
}


def paper_names(arch: str, model: nn.Module) -> Dict[str, str]:
    """{paper layer name (conv1, fc6, ...): qualified module name (features.0, classifier.1, ...)}."""
    layers = [name for name, module in model.named_modules() if isinstance(module, (nn.Linear, nn.Conv2d))]
    return dict(zip(ARCHITECTURES[arch].densities, layers, strict=True))


def layer_densities(model, names) -> dict:
    """{paper layer name: fraction of its weights kept} (1.0 for a layer not pruned yet)."""
    kept = {}
    for name, layer in names.items():
        mask: Optional[torch.Tensor] = getattr(model.get_submodule(layer), "mask", None)
        kept[name] = 1.0 if mask is None else float(mask.sum()) / mask.numel()
    return kept
