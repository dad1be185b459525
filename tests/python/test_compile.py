"""torch.compile(fullgraph=True) traces masked and shared models through the fake kernels, forward and
backward."""
import pytest
import torch
import torch.nn as nn

import deepcomp

STAGES = {
    "pruned": lambda model: deepcomp.prune(model, sparsity=0.6),
    "quantized": lambda model: (deepcomp.prune(model, sparsity=0.6), deepcomp.quantize(model, bits=4)),
}


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compiled_model_matches_eager(backend, stage):
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    STAGES[stage](model)
    x = torch.randn(3, 2, 6, 6)
    compiled = torch.compile(model, fullgraph=True, backend=backend)
    torch.testing.assert_close(compiled(x), model(x))
    compiled(x).square().sum().backward()
    compiled_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model(x).square().sum().backward()
    for got, want in zip(compiled_grads, (p.grad for p in model.parameters())):
        torch.testing.assert_close(got, want)
    assert torch.all(model[3].weight[~model[3].mask] == 0)
