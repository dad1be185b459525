"""deepcomp.nn.SharedLinear / SharedConv2d: made from trained layers, fine-tuned, saved, copied."""
import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import deepcomp
from deepcomp.nn import MaskedLinear, SharedConv2d, SharedLinear


def _pruned_linear(in_features=40, out_features=30, sparsity=0.7):
    model = nn.Sequential(nn.Linear(in_features, out_features))
    deepcomp.prune(model, sparsity=sparsity)
    return model[0]


def test_from_dense_linear_has_the_documented_state():
    dense = nn.Linear(40, 30)
    layer = SharedLinear.from_dense(dense, 5)
    assert layer.codebook.shape == (32,) and layer.codebook.dtype == torch.float32
    assert isinstance(layer.codebook, nn.Parameter) and layer.bits == 5
    assert layer.indices.dtype == torch.uint8 and layer.indices.shape == (30, 40)
    assert layer.mask.dtype == torch.bool and bool(layer.mask.all())
    assert layer.bias is dense.bias
    assert set(dict(layer.named_parameters())) == {"codebook", "bias"}
    assert set(dict(layer.named_buffers())) == {"indices", "mask"}
    assert torch.equal(layer.weight, layer.codebook[layer.indices.long()])
    x = torch.randn(8, 40)
    torch.testing.assert_close(layer(x), F.linear(x, layer.weight, dense.bias))
    # 32 centroids for 1200 weights: the decoded weight is close to the trained one.
    with torch.no_grad():
        assert float((layer.weight - dense.weight).norm() / dense.weight.norm()) < 0.05


def test_from_dense_keeps_a_masked_layers_pruned_weights_at_zero():
    masked = _pruned_linear()
    layer = SharedLinear.from_dense(masked, 4, init="density")
    assert torch.equal(layer.mask, masked.mask)
    assert torch.all(layer.weight[~masked.mask] == 0)
    assert layer.clusters_used() <= 16 and layer.kept() == masked.kept()


def test_from_dense_reclusters_a_shared_layer_and_checks_its_argument():
    layer = SharedLinear.from_dense(_pruned_linear(), 6)
    fewer = SharedLinear.from_dense(layer, 2)
    assert fewer.codebook.numel() == 4 and torch.equal(fewer.mask, layer.mask)
    with pytest.raises(TypeError, match="needs an nn.Linear"):
        SharedLinear.from_dense(nn.Conv2d(2, 2, 3), 5)
    with pytest.raises(ValueError, match=r"1\.\.8"):
        SharedLinear.from_dense(nn.Linear(3, 3), 9)
    with pytest.raises(ValueError, match="unknown codebook init"):
        SharedLinear.from_dense(nn.Linear(3, 3), 3, init="uniform")


@pytest.mark.parametrize("kwargs", [dict(padding=1), dict(padding="same", kernel_size=4),
                                    dict(padding=2, padding_mode="reflect", groups=2, stride=2),
                                    dict(padding=(1, 0), dilation=(2, 1), bias=False)])
def test_shared_conv2d_matches_conv2d_with_the_decoded_weight(kwargs):
    kernel_size = kwargs.pop("kernel_size", 3)
    dense = nn.Conv2d(4, 6, kernel_size, **kwargs)
    layer = SharedConv2d.from_dense(dense, 8)
    assert layer.codebook.numel() == 256 and layer.indices.shape == dense.weight.shape
    x = torch.randn(2, 4, 11, 9)
    with torch.no_grad():
        dense.weight.copy_(layer.weight)
    torch.testing.assert_close(layer(x), dense(x))
    torch.testing.assert_close(layer(x[0]), dense(x[0]))


def test_fresh_layers_are_initialised_like_torch_and_clustered():
    torch.manual_seed(1)
    layer = SharedLinear(20, 10, bits=3)
    assert layer.codebook.numel() == 8 and layer.clusters_used() == 8
    assert layer(torch.randn(2, 20)).shape == (2, 10)
    conv = SharedConv2d(3, 5, 3, padding=1, bias=False)
    assert conv.bias is None and conv.bits == 8 and conv(torch.randn(1, 3, 6, 6)).shape == (1, 5, 6, 6)


@pytest.mark.parametrize("make_optimizer", [
    lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9),
    lambda params: torch.optim.Adam(params, lr=0.01),
])
def test_fine_tuning_moves_centroids_only_and_pruned_weights_stay_zero(make_optimizer):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 1))
    deepcomp.prune(model, sparsity=0.6)
    deepcomp.quantize(model, bits=3)
    indices = [model[i].indices.clone() for i in (0, 2)]
    codebooks = [model[i].codebook.detach().clone() for i in (0, 2)]
    optimizer = make_optimizer(model.parameters())
    x, y = torch.randn(256, 20), torch.randn(256, 1)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    for i, before_indices, before_codebook in zip((0, 2), indices, codebooks):
        layer = model[i]
        assert torch.equal(layer.indices, before_indices)
        assert not torch.equal(layer.codebook.detach(), before_codebook)
        assert torch.all(layer.weight[~layer.mask] == 0)


def test_state_dict_round_trip_reproduces_outputs_bit_for_bit():
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.Flatten(), nn.Linear(4 * 4 * 4, 5))
    deepcomp.prune(model, sparsity=0.5)
    deepcomp.quantize(model)
    fresh = nn.Sequential(SharedConv2d(2, 4, 3), nn.Flatten(), SharedLinear(64, 5))
    fresh.load_state_dict(model.state_dict())
    x = torch.randn(3, 2, 6, 6)
    assert torch.equal(fresh(x), model(x))
    assert torch.equal(copy.deepcopy(model)(x), model(x))
    double = copy.deepcopy(model).to(torch.float64)
    assert double[2].codebook.dtype == torch.float64 and double[2].indices.dtype == torch.uint8
    torch.testing.assert_close(double(x.double()).float(), model(x))


def test_repr_says_bits_and_kept():
    text = repr(SharedLinear.from_dense(_pruned_linear(10, 10, 0.5), 2))
    assert "bits=2" in text and "kept=50/100" in text
