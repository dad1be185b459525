"""The masked ops hand a weight known to be masked straight to their GEMM (no pass over it): known
after apply_mask_ (the optimizer-step hook, enforce_masks, prune) or a successful check, forgotten
at any change torch sees. Whatever changes weight or mask, pruned weights never reach the output or
the weight gradient."""
import pytest
import torch
import torch.nn as nn

import deepcomp
import reference as ref
from deepcomp import ops
from deepcomp.nn import MaskedConv2d, MaskedLinear


def pruned_linear(device, seed=0):
    torch.manual_seed(seed)
    layer = MaskedLinear(12, 7, device=device)
    layer.mask.copy_(ref.random_mask(layer.mask.shape, device=device))
    deepcomp.enforce_masks(layer)
    return layer


def check_no_leak(layer, x):
    out = layer(x)
    torch.testing.assert_close(out, ref.masked_linear(x, layer.weight, layer.mask, layer.bias))
    out.square().sum().backward()
    assert (layer.weight.grad[~layer.mask] == 0).all()
    layer.weight.grad = None


def stray(layer):
    """Non-zero values at every pruned position, written as the user's code might."""
    return torch.where(layer.mask, layer.weight.detach(), torch.full_like(layer.weight, 3.0))


CHANGES = {
    "add_ under no_grad": lambda layer: layer.weight.add_(1.0),
    "copy_ under no_grad": lambda layer: layer.weight.copy_(stray(layer)),
    "load_state_dict": lambda layer: layer.load_state_dict({**layer.state_dict(), "weight": stray(layer)}),
    "weight.data = ...": lambda layer: setattr(layer.weight, "data", stray(layer)),
    "a new Parameter": lambda layer: setattr(layer, "weight", nn.Parameter(stray(layer))),
    "the mask changed": lambda layer: layer.mask.copy_(ref.random_mask(layer.mask.shape, device=layer.mask.device)),
    "the mask replaced": lambda layer: setattr(layer, "mask", ref.random_mask(layer.mask.shape,
                                                                              device=layer.mask.device)),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_torch_sees_is_never_missed(change, device):
    layer = pruned_linear(device)
    x = torch.randn(5, 12, device=device)
    check_no_leak(layer, x)  # known masked from here on
    with torch.no_grad():
        CHANGES[change](layer)
    check_no_leak(layer, x)


def test_an_optimizer_step_leaves_the_weight_known_and_the_outputs_exact(device):
    layer = pruned_linear(device)
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.1)
    x = torch.randn(5, 12, device=device)
    for _ in range(3):
        optimizer.zero_grad()
        check_no_leak(layer, x)
        layer(x).square().sum().backward()
        optimizer.step()  # Adam's moments move pruned weights; the step hook zeroes them again
        assert (layer.weight[~layer.mask] == 0).all()


def test_apply_mask_bumps_the_version_so_autograd_sees_the_change():
    weight = torch.randn(4, 5, requires_grad=True)
    mask = ref.random_mask((4, 5))
    product = weight * 1.0
    y = (product * product).sum()  # saves product for backward
    before = product._version
    with torch.no_grad():
        ops.apply_mask_(product, mask)
    assert product._version == before + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_conv_too(device):
    torch.manual_seed(3)
    layer = MaskedConv2d(3, 4, 3, padding=1, device=device)
    layer.mask.copy_(ref.random_mask(layer.mask.shape, device=device))
    deepcomp.enforce_masks(layer)
    x = torch.randn(2, 3, 6, 6, device=device)
    layer(x)
    with torch.no_grad():
        layer.weight.copy_(torch.where(layer.mask, layer.weight, torch.ones_like(layer.weight)))
    expected = torch.nn.functional.conv2d(x, layer.weight * layer.mask, layer.bias, padding=1)
    torch.testing.assert_close(layer(x), expected)
