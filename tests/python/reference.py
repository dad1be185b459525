"""Pure-PyTorch references of deepcomp's ops: the oracle the kernels are tested against."""
import torch
import torch.nn.functional as F


def apply_mask(weight, mask):
    return torch.where(mask, weight, torch.zeros_like(weight))


def masked_linear(input, weight, mask, bias=None):
    return F.linear(input, weight * mask, bias)


def masked_conv2d(input, weight, mask, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return F.conv2d(input, weight * mask, bias, stride, padding, dilation, groups)


def random_mask(shape, keep=0.5, device="cpu"):
    return torch.rand(shape, device=device) < keep


def relative_error(actual, expected):
    actual, expected = actual.detach().double(), expected.detach().double()
    denom = expected.norm()
    return float((actual - expected).norm() / (denom if denom > 0 else 1))
