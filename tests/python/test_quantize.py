"""deepcomp.quantize: converts a model's layers in place, reports per layer, fails cleanly."""
import pytest
import torch
import torch.nn as nn

import deepcomp
from deepcomp.nn import MaskedConv2d, MaskedLinear, SharedConv2d, SharedLinear


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(4 * 6 * 6, 20), nn.ReLU(), nn.Linear(20, 3))

    def forward(self, x):
        return self.classifier(self.features(x))


def test_default_bits_are_the_papers_and_the_report_is_a_table():
    model = Net()
    deepcomp.prune(model, sparsity={"classifier.1": 0.8})
    report = deepcomp.quantize(model)
    assert type(model.features[0]) is SharedConv2d and model.features[0].bits == 8
    assert type(model.classifier[1]) is SharedLinear and model.classifier[1].bits == 5
    assert [layer.name for layer in report] == ["features.0", "classifier.1", "classifier.3"]
    fc1 = report["classifier.1"]
    assert (fc1.bits, fc1.k, fc1.weights) == (5, 32, 144 * 20)
    assert fc1.kept == model.classifier[1].kept() == int(0.2 * 144 * 20)
    assert 1 <= fc1.clusters_used <= 32 and 0 < fc1.index_entropy <= 5 and fc1.squared_error > 0
    assert report["classifier.3"].clusters_used == model.classifier[3].clusters_used()
    text = str(report)
    assert "classifier.1" in text and "entropy" in text
    assert report.to_dict()["layers"][1]["k"] == 32
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 3)


def test_squared_error_in_the_report_is_that_of_the_codebook():
    model = nn.Sequential(nn.Linear(30, 20))
    weight = model[0].weight.detach().clone()
    report = deepcomp.quantize(model, bits=3)
    expected = float(((weight - model[0].weight.detach()) ** 2).sum())
    assert report["0"].squared_error == pytest.approx(expected, rel=1e-5)


def test_bits_per_layer_override_the_defaults_and_layers_restrict():
    model = Net()
    deepcomp.quantize(model, bits={"classifier.3": 2})
    assert model.classifier[3].bits == 2 and model.classifier[1].bits == 5 and model.features[0].bits == 8
    model = Net()
    report = deepcomp.quantize(model, bits=4, layers=["classifier.1"])
    assert len(report) == 1 and model.classifier[1].bits == 4
    assert type(model.classifier[3]) is nn.Linear and type(model.features[0]) is nn.Conv2d


def test_masked_layers_keep_their_pruned_weights_and_shared_layers_are_reclustered():
    model = Net()
    deepcomp.prune(model, sparsity=0.5)
    masks = {name: m.mask.clone() for name, m in model.named_modules() if isinstance(m, (MaskedLinear, MaskedConv2d))}
    deepcomp.quantize(model, init="density")
    for name, module in model.named_modules():
        if name in masks:
            assert torch.equal(module.mask, masks[name])
            assert torch.all(module.weight[~module.mask] == 0)
    deepcomp.quantize(model, bits=2)
    assert model.classifier[1].codebook.numel() == 4


def test_a_layer_used_twice_is_replaced_everywhere():
    shared = nn.Linear(5, 5)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    deepcomp.quantize(model)
    assert model[0] is model[2] and isinstance(model[0], SharedLinear)


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(bits=0), ValueError, r"1\.\.8.*got 0"),
    (dict(bits=9), ValueError, r"1\.\.8.*got 9"),
    (dict(bits=True), TypeError, "must be an int"),
    (dict(bits={"classifier.1": 12}), ValueError, r"bits for 'classifier.1'.*got 12"),
    (dict(bits={"classifier.9": 4}), ValueError, "no layer named 'classifier.9'"),
    (dict(bits={"classifier.3": 4}, layers=["classifier.1"]), ValueError, "layers= leaves out"),
    (dict(init="kmeans++"), ValueError, "unknown codebook init"),
    (dict(method="fastest"), ValueError, "unknown k-means method"),
    (dict(layers=["classifier.2"]), TypeError, "layer 'classifier.2' is a ReLU"),
    (dict(layers=["feature.0"]), ValueError, "no layer named 'feature.0'.*did you mean"),
])
def test_bad_arguments_are_clear_errors_and_change_nothing(kwargs, error, message):
    model = Net()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(error, match=message):
        deepcomp.quantize(model, **kwargs)
    assert type(model.classifier[1]) is nn.Linear and type(model.features[0]) is nn.Conv2d
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key])


def test_nan_in_a_weight_names_the_layer_and_changes_nothing():
    model = Net()
    with torch.no_grad():
        model.classifier[3].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="layer 'classifier.3'.*NaN/Inf"):
        deepcomp.quantize(model)
    assert type(model.features[0]) is nn.Conv2d


def test_the_model_itself_cannot_be_replaced():
    with pytest.raises(TypeError, match="the model itself is a Linear"):
        deepcomp.quantize(nn.Linear(4, 4))
