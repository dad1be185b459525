"""MaskedLinear / MaskedConv2d behave like the torch.nn layers they replace, and like any module."""
import copy
import io
import pickle

import pytest
import torch
import torch.nn as nn

import reference as ref
from deepcomp.nn import MaskedConv2d, MaskedLinear


def test_masked_linear_has_linear_arguments_and_state(device):
    layer = MaskedLinear(10, 4, bias=False, device=device, dtype=torch.float64)
    assert layer.weight.dtype == torch.float64 and layer.bias is None
    assert layer.mask.dtype == torch.bool and layer.mask.shape == layer.weight.shape and layer.mask.all()
    assert isinstance(layer.weight, nn.Parameter)
    assert set(layer.state_dict()) == {"weight", "mask"}


def test_from_dense_shares_parameters_and_matches_dense(device):
    dense = nn.Linear(10, 4, device=device)
    layer = MaskedLinear.from_dense(dense)
    assert layer.weight is dense.weight and layer.bias is dense.bias
    x = torch.randn(3, 10, device=device)
    torch.testing.assert_close(layer(x), dense(x))


def test_masked_forward_uses_the_mask(device):
    layer = MaskedLinear(10, 4, device=device)
    layer.mask.copy_(ref.random_mask(layer.mask.shape, device=device))
    x = torch.randn(5, 10, device=device)
    torch.testing.assert_close(layer(x), ref.masked_linear(x, layer.weight, layer.mask, layer.bias))


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3, padding=1),
    dict(kernel_size=(4, 3), padding="same"),
    dict(kernel_size=(4, 2), padding="same", dilation=2),
    dict(kernel_size=3, padding="valid", stride=2),
    dict(kernel_size=3, padding=2, padding_mode="reflect", groups=3, out_channels=6),
    dict(kernel_size=3, padding=(1, 2), padding_mode="circular", bias=False),
    dict(kernel_size=3, padding=1, padding_mode="replicate"),
])
def test_masked_conv2d_matches_conv2d_for_every_padding(device, kwargs):
    kwargs = {"in_channels": 3, "out_channels": 4, **kwargs}
    dense = nn.Conv2d(**kwargs, device=device)
    layer = MaskedConv2d.from_dense(dense)
    x = torch.randn(2, 3, 10, 12, device=device)
    torch.testing.assert_close(layer(x), dense(x))
    layer.mask.copy_(ref.random_mask(layer.mask.shape, device=device))
    with torch.no_grad():
        dense.weight.mul_(layer.mask)
    torch.testing.assert_close(layer(x), dense(x))


def test_from_dense_rejects_other_layers():
    with pytest.raises(TypeError, match="needs an nn.Linear, got Conv2d"):
        MaskedLinear.from_dense(nn.Conv2d(1, 1, 1))
    with pytest.raises(TypeError, match="needs an nn.Conv2d, got Linear"):
        MaskedConv2d.from_dense(nn.Linear(1, 1))


def _pruned_model():
    model = nn.Sequential(MaskedConv2d(3, 4, 3), nn.Flatten(), MaskedLinear(4 * 6 * 6, 5))
    for layer in (model[0], model[2]):
        layer.mask.copy_(ref.random_mask(layer.mask.shape))
    return model


def test_state_dict_round_trip_keeps_masks():
    model = _pruned_model()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    fresh = nn.Sequential(MaskedConv2d(3, 4, 3), nn.Flatten(), MaskedLinear(4 * 6 * 6, 5))
    fresh.load_state_dict(torch.load(buffer))
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(fresh(x), model(x))


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_deepcopy_and_pickle_keep_masks_and_the_optimizer_guarantee(clone):
    twin = clone(_pruned_model())
    layer = twin[2]
    optimizer = torch.optim.SGD(twin.parameters(), lr=1.0)
    with torch.no_grad():
        layer.weight.add_(1.0)  # pretend an update moved every weight
    twin(torch.randn(2, 3, 8, 8)).sum().backward()
    optimizer.step()
    assert torch.all(layer.weight[~layer.mask] == 0)


def test_to_dtype_keeps_the_mask_bool():
    model = _pruned_model().to(torch.float64)
    assert model[2].weight.dtype == torch.float64 and model[2].mask.dtype == torch.bool
    assert model(torch.randn(1, 3, 8, 8, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_to_cuda_moves_the_mask(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # the CPU reference is full float32
    model = _pruned_model().cuda()
    assert model[2].mask.is_cuda
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(model(x.cuda()).cpu(), model.cpu()(x), rtol=1e-4, atol=1e-4)


def test_repr_shows_kept_weights():
    layer = MaskedLinear(4, 2)
    layer.mask[0] = False
    assert "kept=4/8" in repr(layer)
