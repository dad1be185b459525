"""A ResNet-18-shaped network for Fashion-MNIST, for the post-training compression example: a stem,
four stages of two basic blocks (16, 32, 64, 128 channels; BatchNorm after every convolution; a 1×1
convolution and BatchNorm on the shortcut where a stage downsamples), global average pooling and a
linear head. The 3×3 convolutions inside the blocks are grouped (4 groups), as ResNeXt's are, so the
grouped-convolution path is exercised too."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def inputs(images: torch.Tensor) -> torch.Tensor:
    """What the network reads: the normalised images themselves."""
    return images


class BasicBlock(nn.Module):
    def __init__(self, inputs: int, outputs: int, stride: int, groups: int):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, groups=groups if inputs % groups == 0 else 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.downsample = None
        if stride != 1 or inputs != outputs:
            self.downsample = nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + shortcut)


class ResNet(nn.Module):
    def __init__(self, widths=(16, 32, 64, 128), groups: int = 4, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        blocks, inputs = [], widths[0]
        for stage, width in enumerate(widths):
            for index in range(2):
                blocks.append(BasicBlock(inputs, width, 2 if stage > 0 and index == 0 else 1, groups))
                inputs = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(widths[-1], classes)

    def pooled(self, images: torch.Tensor) -> torch.Tensor:
        """The image embedding: the last stage's channels, averaged over positions."""
        return self.blocks(self.stem(images)).mean((2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled(images))
