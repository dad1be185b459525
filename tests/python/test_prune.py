"""deepcomp.prune: selection, both criteria, in-place conversion, reports, and its errors."""
import math

import pytest
import torch
import torch.nn as nn

import deepcomp
from deepcomp.nn import MaskedConv2d, MaskedLinear


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8 * 6 * 6, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def _pruned_nonzeros(layer):
    return int((layer.weight[~layer.mask] != 0).sum())


def test_sparsity_converts_in_place_and_prunes_exactly():
    model = Net()
    fc_weight = model.classifier[1].weight
    original = fc_weight.detach().clone()
    report = deepcomp.prune(model, sparsity=0.8)
    assert isinstance(model.features[0], MaskedConv2d)
    assert isinstance(model.classifier[1], MaskedLinear) and isinstance(model.classifier[3], MaskedLinear)
    assert model.classifier[1].weight is fc_weight  # the same Parameter: optimizers keep working
    assert [row.name for row in report] == ["features.0", "classifier.1", "classifier.3"]
    for row in report:
        assert row.weights - row.kept == math.floor(0.8 * row.weights)
    fc = model.classifier[1]
    assert _pruned_nonzeros(fc) == 0
    assert original[fc.mask].abs().min() >= original[~fc.mask].abs().max()
    assert torch.equal(fc.weight[fc.mask], original[fc.mask])
    assert report.total_kept == sum(row.kept for row in report)
    assert "classifier.1" in str(report) and "total" in str(report)
    assert report.to_dict()["layers"][1]["name"] == "classifier.1"


def test_sensitivity_uses_std_of_surviving_weights():
    model = Net()
    w = model.classifier[1].weight.detach().clone()
    deepcomp.prune(model, sparsity={"classifier.1": 0.5})
    mask = model.classifier[1].mask.clone()
    threshold = 0.7 * w[mask].double().std()
    deepcomp.prune(model, sensitivity=0.7, layers=["classifier.1"])
    assert torch.equal(model.classifier[1].mask, mask & (w.abs() >= threshold))


def test_dict_values_prune_only_named_layers():
    model = Net()
    report = deepcomp.prune(model, sparsity={"classifier.3": 0.5, "features.0": 0.25})
    assert [row.name for row in report] == ["features.0", "classifier.3"]
    assert isinstance(model.classifier[1], nn.Linear) and not isinstance(model.classifier[1], MaskedLinear)
    assert report["classifier.3"].kept == 160


def test_masks_only_shrink():
    model = Net()
    deepcomp.prune(model, sparsity=0.6)
    before = model.classifier[1].mask.clone()
    deepcomp.prune(model, sparsity=0.3)
    assert torch.equal(model.classifier[1].mask, before)
    deepcomp.prune(model, sparsity=0.9)
    assert torch.all(model.classifier[1].mask <= before)


def test_a_layer_used_twice_is_converted_everywhere():
    shared = nn.Linear(6, 6)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    deepcomp.prune(model, sparsity=0.5)
    assert isinstance(model[0], MaskedLinear) and model[0] is model[2]


def test_subclasses_of_linear_are_not_converted_silently():
    class Scaled(nn.Linear):
        def forward(self, x):
            return 2 * super().forward(x)

    model = nn.Sequential(Scaled(4, 4), nn.Linear(4, 2))
    report = deepcomp.prune(model, sparsity=0.5)
    assert [row.name for row in report] == ["1"]
    with pytest.raises(TypeError, match="layer '0' is a Scaled"):
        deepcomp.prune(model, sparsity=0.5, layers=["0"])


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(), ValueError, "exactly one"),
    (dict(sparsity=0.5, sensitivity=1.0), ValueError, "exactly one"),
    (dict(sparsity=1.0), ValueError, r"layer 'features.0': .*\[0, 1\), got 1"),
    (dict(sparsity=-0.1), ValueError, r"\[0, 1\), got -0.1"),
    (dict(sensitivity=-1.0), ValueError, r">= 0, got -1"),
    (dict(sensitivity=float("nan")), ValueError, "got nan"),
    (dict(sparsity="high"), TypeError, "must be a number"),
    (dict(sparsity=0.5, layers=["classifier.9"]), ValueError, "no layer named 'classifier.9'.*did you mean"),
    (dict(sparsity={"nope": 0.5}), ValueError, "no layer named 'nope'"),
    (dict(sparsity=0.5, layers=["features.1"]), TypeError, "layer 'features.1' is a BatchNorm2d"),
])
def test_bad_input_is_a_clear_error_and_changes_nothing(kwargs, error, message):
    model = Net()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(error, match=message):
        deepcomp.prune(model, **kwargs)
    assert type(model.classifier[1]) is nn.Linear
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key])


def test_nan_in_a_weight_names_the_layer_and_changes_nothing():
    model = Net()
    with torch.no_grad():
        model.classifier[3].weight[0, 0] = float("inf")
    with pytest.raises(ValueError, match="layer 'classifier.3'.*NaN/Inf"):
        deepcomp.prune(model, sparsity=0.5)
    assert type(model.features[0]) is nn.Conv2d  # earlier layers were not converted either


def test_the_model_itself_cannot_be_swapped():
    with pytest.raises(TypeError, match="the model itself is a Linear"):
        deepcomp.prune(nn.Linear(4, 4), sparsity=0.5)
    masked = MaskedLinear(4, 4)
    assert deepcomp.prune(masked, sparsity=0.5)[""].kept == 8


def test_pruned_model_still_computes_the_masked_function():
    model = Net().eval()
    deepcomp.prune(model, sparsity=0.7)
    x = torch.randn(2, 3, 8, 8)
    fc1, fc2, conv = model.classifier[1], model.classifier[3], model.features[0]
    h = torch.relu(model.features[1](nn.functional.conv2d(x, conv.weight * conv.mask, conv.bias)))
    h = torch.relu(nn.functional.linear(h.flatten(1), fc1.weight * fc1.mask, fc1.bias))
    expected = nn.functional.linear(h, fc2.weight * fc2.mask, fc2.bias)
    torch.testing.assert_close(model(x), expected)


def test_pruning_around_shared_layers_does_not_decode_them(monkeypatch):
    model = nn.Sequential(nn.Linear(30, 20), nn.ReLU(), nn.Linear(20, 5))
    deepcomp.quantize(model, layers=["0"])

    def no_decoding(*args):
        raise AssertionError("prune decoded a shared layer it leaves alone")

    monkeypatch.setattr(deepcomp.nn.shared_layer.ops, "codebook_decode", no_decoding)
    with pytest.warns(UserWarning, match="'0'"):
        report = deepcomp.prune(model, sparsity=0.5)
    assert [row.name for row in report] == ["2"] and [s.name for s in report.skipped] == ["0"]
    with pytest.raises(TypeError, match="layer '0'"):
        deepcomp.prune(model, sparsity=0.5, layers=["0"])
