"""Masked and shared layers under torch.autocast (CPU bfloat16): the ops run in the autocast dtype
like nn.Linear/nn.Conv2d, and gradients reach the float32 weights and codebooks masked as ever."""
import copy

import pytest
import torch

import deepcomp


def _network() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(8 * 6 * 6, 5))


@pytest.mark.parametrize("stage", ["masked", "shared"])
def test_layers_train_under_cpu_bfloat16_autocast(stage):
    model = _network()
    deepcomp.prune(model, sparsity=0.6)
    if stage == "shared":
        deepcomp.quantize(model, bits=4)
    reference = copy.deepcopy(model)
    x, y = torch.randn(4, 3, 6, 6), torch.randint(0, 5, (4,))

    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
    assert logits.dtype == torch.bfloat16
    loss.backward()
    torch.nn.functional.cross_entropy(reference(x), y).backward()

    assert torch.allclose(logits.float(), reference(x), atol=0.1, rtol=0.05)
    for (name, param), (_, exact) in zip(model.named_parameters(), reference.named_parameters()):
        assert param.dtype == param.grad.dtype == torch.float32, name
        assert torch.allclose(param.grad, exact.grad, atol=0.05, rtol=0.1), name
    for layer in (model[0], model[3]):
        if stage == "masked":
            assert not layer.weight.grad[~layer.mask].any()  # pruned weights get no gradient


def test_autocast_leaves_float32_alone_outside_its_region():
    model = _network()
    deepcomp.prune(model, sparsity=0.5)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=False):
        assert model(torch.randn(2, 3, 6, 6)).dtype == torch.float32


def test_compressed_layers_infer_under_cpu_bfloat16_autocast():
    model = torch.nn.Sequential(torch.nn.Linear(30, 20), torch.nn.ReLU(), torch.nn.Linear(20, 5))
    deepcomp.prune(model, sparsity=0.7)
    deepcomp.quantize(model)
    for index in (0, 2):
        model[index] = deepcomp.nn.CompressedLinear.from_shared(model[index])
    x = torch.randn(4, 30)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(x)
    assert logits.dtype == torch.bfloat16
    with torch.no_grad():
        assert torch.allclose(logits.float(), model(x), atol=0.05, rtol=0.05)
