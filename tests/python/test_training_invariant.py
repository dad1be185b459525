"""After pruning, pruned weights are exactly zero in every forward and after every optimizer step,
for optimizers whose state (momentum, Adam moments) was built before pruning."""
import pytest
import torch
import torch.nn as nn

import deepcomp

OPTIMIZERS = {
    "sgd-momentum": lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda params: torch.optim.Adam(params, lr=1e-2),
    "adamw-weight-decay": lambda params: torch.optim.AdamW(params, lr=1e-2, weight_decay=0.1),
    "rmsprop": lambda params: torch.optim.RMSprop(params, lr=1e-3, momentum=0.5),
}


def _model(device):
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 16), nn.ReLU(),
                         nn.Linear(16, 3)).to(device)


def _train_step(model, optimizer, device):
    x, y = torch.randn(8, 1, 8, 8, device=device), torch.randint(0, 3, (8,), device=device)
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()


def _masked_layers(model):
    return [m for m in model.modules() if isinstance(m, deepcomp.nn.MaskedLayer)]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_pruned_weights_stay_zero_with_state_built_before_pruning(device, name):
    model = _model(device)
    optimizer = OPTIMIZERS[name](model.parameters())
    for _ in range(3):  # momentum / moments for every weight, pruned ones included
        _train_step(model, optimizer, device)
    deepcomp.prune(model, sparsity=0.75)
    kept_before = [layer.weight.detach()[layer.mask].clone() for layer in _masked_layers(model)]
    for _ in range(5):
        _train_step(model, optimizer, device)
        for layer in _masked_layers(model):
            assert torch.all(layer.weight[~layer.mask] == 0), f"{name}: pruned weight moved"
            assert torch.all(layer.weight.grad[~layer.mask] == 0)
    moved = [not torch.equal(layer.weight.detach()[layer.mask], before)
             for layer, before in zip(_masked_layers(model), kept_before)]
    assert all(moved), "kept weights must still train"


def test_optimizer_built_after_pruning_and_iterative_rounds(device):
    model = _model(device)
    deepcomp.prune(model, sparsity=0.5)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for sparsity in (0.7, 0.9):
        for _ in range(3):
            _train_step(model, optimizer, device)
        deepcomp.prune(model, sparsity=sparsity)
        _train_step(model, optimizer, device)
        for layer in _masked_layers(model):
            assert torch.all(layer.weight[~layer.mask] == 0)


def test_enforce_masks_after_a_manual_update():
    model = _model("cpu")
    deepcomp.prune(model, sparsity=0.5)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    deepcomp.enforce_masks(model)
    for layer in _masked_layers(model):
        assert torch.all(layer.weight[~layer.mask] == 0)
