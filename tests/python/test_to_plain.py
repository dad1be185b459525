"""deepcomp.to_plain: every deepcomp layer back to its torch layer, decoded, computing the same function."""
import pytest
import torch
import torch.nn as nn

import deepcomp
from deepcomp.nn import CompressedLinear


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1, padding_mode="reflect")
        self.fc1 = nn.Linear(4 * 6 * 6, 20)
        self.fc2 = nn.Linear(20, 5, bias=False)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(torch.relu(self.conv(x)).flatten(1))))


def test_masked_and_shared_layers_become_plain_with_the_same_outputs():
    torch.manual_seed(0)
    model = Net().eval()
    deepcomp.prune(model, sparsity=0.6)
    deepcomp.quantize(model, layers=["conv", "fc1"])  # fc2 stays masked
    x = torch.randn(3, 2, 6, 6)
    expected = model(x)
    masked_weight = model.fc2.weight.detach().clone()
    assert deepcomp.to_plain(model) is model
    assert [type(m) for m in (model.conv, model.fc1, model.fc2)] == [nn.Conv2d, nn.Linear, nn.Linear]
    assert model.conv.padding_mode == "reflect" and model.fc2.bias is None and not model.training
    assert torch.equal(model.fc2.weight, masked_weight)
    assert (model.fc1.weight == 0).float().mean() >= 0.6  # pruned weights are exactly 0
    torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-6)
    assert deepcomp.to_plain(model) is model  # nothing left to change


def test_a_compressed_linear_becomes_plain():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4))
    deepcomp.prune(model, sparsity=0.7)
    deepcomp.quantize(model)
    model[0] = CompressedLinear.from_shared(model[0])
    x = torch.randn(5, 16)
    expected = model(x)
    deepcomp.to_plain(model)
    assert type(model[0]) is nn.Linear and type(model[2]) is nn.Linear
    torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-6)


def test_the_model_itself_cannot_become_plain():
    layer = deepcomp.nn.MaskedLinear(4, 4)
    with pytest.raises(TypeError, match="the model itself is a MaskedLinear.*wrap it"):
        deepcomp.to_plain(layer)
