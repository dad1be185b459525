"""deepcomp.match_layers: a fresh model takes the layer types of a compressed model's state dict, then loads it."""
import copy
import re

import pytest
import torch
import torch.nn as nn

import deepcomp
from deepcomp.nn import MaskedConv2d, MaskedLinear, SharedConv2d, SharedLinear


def _model(**factory):
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2, bias=False, **factory), nn.ReLU(),
                         nn.Conv2d(8, 6, 2, padding="same", dilation=2, padding_mode="reflect", **factory),
                         nn.Flatten(), nn.Sequential(nn.Linear(6 * 4 * 4, 12, **factory)),
                         nn.Linear(12, 5, bias=False, **factory))


LAYERS = ("0", "2", "4.0", "5")


def _pruned(**factory):
    model = _model(**factory)
    deepcomp.prune(model, sparsity=0.6)
    return model


def _quantized(bits=None, **factory):
    model = _pruned(**factory)
    deepcomp.quantize(model, bits=bits)
    return model


def _types(model):
    return [type(model.get_submodule(name)) for name in LAYERS]


def _assert_loads_and_computes_the_same(saved, fresh):
    state = saved.state_dict()
    assert deepcomp.match_layers(fresh, state) is fresh
    assert _types(fresh) == _types(saved)
    fresh.load_state_dict(state)
    x = torch.randn(3, 4, 8, 8)
    assert torch.equal(fresh(x), saved(x))


@pytest.mark.parametrize("saved", [_pruned, _quantized, lambda: _quantized(bits=3)], ids=["masked", "shared", "bits3"])
def test_a_plain_model_takes_the_saved_types(saved):
    _assert_loads_and_computes_the_same(saved(), _model())


def test_masked_layers_become_shared_and_shared_ones_take_other_bits():
    _assert_loads_and_computes_the_same(_quantized(), _pruned())
    fresh = _quantized(bits=2)
    _assert_loads_and_computes_the_same(_quantized(), fresh)
    assert [fresh.get_submodule(name).bits for name in LAYERS] == [8, 8, 5, 5]


def test_shared_and_masked_layers_go_back_to_what_the_state_holds():
    _assert_loads_and_computes_the_same(_pruned(), _quantized())
    _assert_loads_and_computes_the_same(_model(), _quantized())


def test_a_layer_of_the_right_type_stays_the_same_object():
    fresh = _quantized(bits=4)
    before = [fresh.get_submodule(name) for name in LAYERS]
    deepcomp.match_layers(fresh, _quantized(bits=4).state_dict())
    assert all(fresh.get_submodule(name) is layer for name, layer in zip(LAYERS, before))


def test_a_replaced_layer_keeps_its_options_and_mode_and_holds_zeros():
    fresh = _model().eval()
    deepcomp.match_layers(fresh, _quantized().state_dict())
    conv, reflect, linear = fresh[0], fresh[2], fresh[5]
    assert isinstance(conv, SharedConv2d) and not conv.training
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.groups,
            conv.bias) == (4, 8, (3, 3), (2, 2), (1, 1), 2, None)
    assert (reflect.padding, reflect.dilation, reflect.padding_mode) == ("same", (2, 2), "reflect")
    assert reflect._reversed_padding_repeated_twice == _model()[2]._reversed_padding_repeated_twice
    assert isinstance(linear, SharedLinear) and linear.bias is None and linear.codebook.numel() == 32
    assert all(not tensor.any() for tensor in (*fresh.parameters(), *fresh.buffers()))


def test_only_the_layers_the_state_names_change():
    saved = _pruned()
    state = {name: tensor for name, tensor in saved.state_dict().items() if name.startswith("0.")}
    fresh = _model()
    deepcomp.match_layers(fresh, state)
    assert _types(fresh) == [MaskedConv2d, nn.Conv2d, nn.Linear, nn.Linear]
    fresh = _pruned()
    deepcomp.match_layers(fresh, {"4.0.weight": saved[4][0].weight.detach()})
    assert _types(fresh) == [MaskedConv2d, MaskedConv2d, nn.Linear, MaskedLinear]


def test_subclasses_and_other_layers_are_left_alone():
    class Scaled(nn.Linear):
        pass

    model = nn.Sequential(Scaled(3, 3), nn.BatchNorm1d(3))
    state = {"0.weight": torch.zeros(3, 3), "0.mask": torch.ones(3, 3, dtype=torch.bool)}
    deepcomp.match_layers(model, state)
    assert type(model[0]) is Scaled


@pytest.mark.parametrize("shape", [(1,), (3,), (6,), (512,), (4, 6), (13, 4), (2, 2, 2), ()])
def test_a_codebook_of_a_bad_shape_names_the_layer_and_changes_nothing(shape):
    state = _quantized().state_dict()
    state["4.0.codebook"] = torch.zeros(shape)
    fresh = _model()
    before = list(fresh.modules())
    message = (f"layer '4.0': the saved codebook has shape {shape}; a shared layer's is (2^bits,) or "
               "(groups, 2^bits), 2^bits a power of two in 2..256 and groups at most the layer's 12 rows")
    with pytest.raises(ValueError, match=re.escape(message)):
        deepcomp.match_layers(fresh, state)
    assert list(fresh.modules()) == before


@pytest.mark.parametrize("leaf,shape,layer_shape", [("weight", (12, 95), (12, 96)), ("mask", (12, 96, 1), (12, 96)),
                                                    ("indices", (96, 12), (12, 96)), ("bias", (13,), (12,))])
def test_a_tensor_of_another_shape_names_the_layer_and_both_shapes(leaf, shape, layer_shape):
    state = _quantized().state_dict()
    state[f"4.0.{leaf}"] = torch.zeros(shape)
    fresh = _model()
    before = list(fresh.modules())
    message = f"layer '4.0': the saved {leaf} has shape {shape}, the layer needs {layer_shape}"
    with pytest.raises(ValueError, match=re.escape(message)):
        deepcomp.match_layers(fresh, state)
    assert list(fresh.modules()) == before


def test_a_layer_as_the_model_cannot_be_replaced_but_may_already_match():
    saved = nn.Sequential(nn.Linear(4, 3))
    deepcomp.quantize(saved)
    state = {name[2:]: tensor for name, tensor in saved.state_dict().items()}
    with pytest.raises(TypeError, match="model itself is a Linear.*SharedLinear.*wrap it"):
        deepcomp.match_layers(nn.Linear(4, 3), state)
    layer = SharedLinear(4, 3, bits=5)
    assert deepcomp.match_layers(layer, state) is layer
    with pytest.raises(TypeError, match="needs a state dict"):
        deepcomp.match_layers(layer, [("weight", torch.zeros(3, 4))])


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_device_and_dtype_are_kept(device, dtype):
    saved = _quantized(device=device, dtype=dtype)
    fresh = _model(device=device, dtype=dtype)
    deepcomp.match_layers(fresh, {name: tensor.cpu() for name, tensor in saved.state_dict().items()})
    for layer in (fresh[0], fresh[5]):
        assert layer.codebook.dtype == dtype and layer.codebook.device.type == device
        assert layer.indices.dtype == torch.uint8 and layer.mask.dtype == torch.bool
        assert layer.indices.device.type == device and layer.mask.device.type == device
    fresh.load_state_dict(saved.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), saved.state_dict().values()))


def test_a_meta_model_stays_on_the_meta_device():
    fresh = _model(device="meta")
    deepcomp.match_layers(fresh, _pruned().state_dict())
    assert isinstance(fresh[0], MaskedConv2d) and fresh[0].weight.is_meta and fresh[0].mask.is_meta


def test_a_resumed_optimizer_goes_on_as_the_uninterrupted_one():
    saved = _quantized()
    optimizer = torch.optim.Adam(saved.parameters(), lr=1e-3)
    x, target = torch.randn(3, 4, 8, 8), torch.randn(3, 5)

    def step(model, optimizer):
        optimizer.zero_grad()
        ((model(x) - target) ** 2).sum().backward()
        optimizer.step()

    step(saved, optimizer)
    # Copies, as torch.save and torch.load make: the optimizer's state dict holds its live tensors.
    state, optimizer_state = copy.deepcopy((saved.state_dict(), optimizer.state_dict()))
    fresh = _model()
    deepcomp.match_layers(fresh, state).load_state_dict(state)
    resumed = torch.optim.Adam(fresh.parameters(), lr=1e-3)
    resumed.load_state_dict(optimizer_state)
    step(saved, optimizer)
    step(fresh, resumed)
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), saved.state_dict().values()))
