"""Every torch layer type of the layer table through the whole pipeline: prune, retrain (pruned
weights exactly 0, their gradient 0), quantize (per-cluster codebook gradients), save/load, match_layers,
to_plain, sensitivity. The reference is always the torch layer itself with the weight set by hand."""
import copy

import pytest
import torch
import torch.nn as nn

import deepcomp
from deepcomp.nn import MaskedLayer, SharedLayer

# name -> (a dense layer, an input for it, keyword arguments of its forward)
CASES = {
    "conv1d grouped": lambda: (nn.Conv1d(8, 12, 3, padding=1, groups=4), torch.randn(2, 8, 11), {}),
    "conv1d reflect": lambda: (nn.Conv1d(3, 5, 4, padding="same", padding_mode="reflect"), torch.randn(2, 3, 9), {}),
    "conv2d depthwise": lambda: (nn.Conv2d(6, 6, 3, padding=1, groups=6), torch.randn(2, 6, 7, 7), {}),
    "conv3d": lambda: (nn.Conv3d(2, 4, 3, stride=(1, 2, 2), bias=False), torch.randn(2, 2, 5, 6, 6), {}),
    "conv_transpose1d": lambda: (nn.ConvTranspose1d(6, 4, 3, stride=2, dilation=2), torch.randn(2, 6, 8), {}),
    "conv_transpose2d grouped": lambda: (nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2), torch.randn(2, 4, 5, 5),
                                         {"output_size": [12, 12]}),
    "conv_transpose3d": lambda: (nn.ConvTranspose3d(2, 3, 2, stride=2), torch.randn(1, 2, 3, 3, 3), {}),
    "embedding": lambda: (nn.Embedding(30, 6, padding_idx=2), torch.tensor([[0, 2, 5], [29, 7, 7]]), {}),
    "embedding max_norm": lambda: (nn.Embedding(30, 6, max_norm=1.0), torch.tensor([[0, 3, 5], [29, 7, 7]]), {}),
    "embedding_bag weighted sums": lambda: (nn.EmbeddingBag(30, 6, mode="sum"), torch.tensor([4, 0, 29, 7, 7, 2, 9]),
                                            {"offsets": torch.tensor([0, 3, 3, 5]),
                                             "per_sample_weights": torch.randn(7)}),
    "embedding_bag max padding_idx": lambda: (nn.EmbeddingBag(30, 6, mode="max", padding_idx=1),
                                              torch.tensor([[0, 1, 5], [29, 7, 1]]), {}),
    "embedding_bag mean max_norm last offset": lambda: (
        nn.EmbeddingBag(30, 6, max_norm=1.0, include_last_offset=True), torch.tensor([3, 8, 8, 21, 0]),
        {"offsets": torch.tensor([0, 2, 5])}),
}


def _case(name):
    torch.manual_seed(0)
    layer, x, kwargs = CASES[name]()
    return nn.Sequential(layer), x, kwargs


def _reference(model, weight, x, kwargs):
    """What the model's torch layer computes with `weight` in place of its own (a copy of it)."""
    plain = copy.deepcopy(deepcomp.to_plain(copy.deepcopy(model))[0])
    with torch.no_grad():
        plain.weight.copy_(weight)
    return plain, plain(x, **kwargs)


def _loss(output):
    return (output.float() * torch.linspace(-1, 1, output.numel()).view_as(output)).sum()


@pytest.mark.parametrize("name", list(CASES))
def test_a_pruned_layer_computes_with_its_masked_weight_and_never_grows_back(name):
    model, x, kwargs = _case(name)
    dense = model[0]
    report = deepcomp.prune(model, sparsity=0.6)
    layer = model[0]
    assert isinstance(layer, MaskedLayer) and isinstance(layer, type(dense)) and layer.weight is dense.weight
    assert [row.name for row in report] == ["0"] and 0.55 < 1 - layer.kept() / layer.mask.numel() < 0.65
    assert torch.all(layer.weight[~layer.mask] == 0)

    # The reference: the torch layer with the masked weight, its gradient masked by hand.
    plain, expected = _reference(model, layer.weight * layer.mask, x, kwargs)
    output = layer(x, **kwargs)
    torch.testing.assert_close(output, expected, rtol=0, atol=1e-6)
    _loss(output).backward()
    _loss(plain(x, **kwargs)).backward()
    assert torch.all(layer.weight.grad[~layer.mask] == 0)
    torch.testing.assert_close(layer.weight.grad, plain.weight.grad * layer.mask, rtol=1e-6, atol=1e-6)

    # Adam with momentum from before pruning would move pruned weights; the step hook puts them back.
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        _loss(model[0](x, **kwargs)).backward()
        optimizer.step()
    assert torch.all(layer.weight[~layer.mask] == 0) and torch.any(layer.weight[layer.mask] != 0)


@pytest.mark.parametrize("name", list(CASES))
def test_a_quantized_layer_trains_its_codebook_by_per_cluster_sums(name):
    model, x, kwargs = _case(name)
    deepcomp.prune(model, sparsity=0.5)
    mask = model[0].mask.clone()
    report = deepcomp.quantize(model, bits=3)
    layer = model[0]
    assert isinstance(layer, SharedLayer) and type(layer).__name__ == "Shared" + type(_case(name)[0][0]).__name__
    assert layer.bits == 3 and torch.equal(layer.mask, mask) and report.layers[0].kept == int(mask.sum())
    weight = layer.weight.detach()
    assert torch.all(weight[~mask] == 0)

    plain, expected = _reference(model, weight, x, kwargs)
    output = layer(x, **kwargs)
    torch.testing.assert_close(output, expected, rtol=0, atol=1e-6)
    _loss(output).backward()
    _loss(plain(x, **kwargs)).backward()
    per_cluster = torch.zeros(8).index_add_(0, layer.indices[mask].long(), plain.weight.grad[mask])
    torch.testing.assert_close(layer.codebook.grad, per_cluster, rtol=1e-5, atol=1e-6)
    assert layer.indices.grad is None and layer.mask.grad is None


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("stage", ["masked", "shared"])
def test_a_layer_round_trips_through_the_file_and_back_to_torch(name, stage, tmp_path):
    model, x, kwargs = _case(name)
    deepcomp.prune(model, sparsity=0.5)
    if stage == "shared":
        deepcomp.quantize(model, bits=4)
    expected = model[0](x, **kwargs)
    report = deepcomp.save(model, tmp_path / "m.dcz")
    assert report.tensors[0].kind == ("sparse_codebook" if stage == "shared" else "sparse_raw")

    fresh, _, _ = _case(name)
    deepcomp.load(tmp_path / "m.dcz", fresh, match_layers=True)
    assert type(fresh[0]) is type(model[0])
    for (key, mine), (_, theirs) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert torch.equal(mine, theirs), key
    assert torch.equal(fresh[0](x, **kwargs), expected)

    plain = deepcomp.to_plain(fresh)
    assert type(plain[0]) in (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                              nn.ConvTranspose3d, nn.Embedding, nn.EmbeddingBag)
    dense = deepcomp.load(tmp_path / "m.dcz")  # no model: the decoded state dict
    assert torch.equal(dense["0.weight"], plain[0].weight)
    torch.testing.assert_close(plain[0](x, **kwargs), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["conv1d grouped", "conv_transpose2d grouped", "embedding",
                                  "embedding_bag weighted sums"])
def test_sensitivity_sweeps_each_layer_type_and_leaves_the_model_alone(name):
    model, x, kwargs = _case(name)
    before = copy.deepcopy(model.state_dict())
    reference = model[0](x, **kwargs).detach()

    def error(m):
        return float((m[0](x, **kwargs) - reference).abs().mean())

    report = deepcomp.sensitivity(model, error, sparsities=(0.0, 0.9), bits=(1, 8), progress=False)
    rows = {(row.kind, row.value): row.metric for row in report.points}
    assert rows[("prune", 0.0)] == 0 and rows[("prune", 0.9)] > rows[("prune", 0.0)]
    assert rows[("quantize", 1.0)] > rows[("quantize", 8.0)]
    for key, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[key]), key


def test_twins_refuse_sparse_embedding_gradients_before_the_model_changes():
    model = nn.Sequential(nn.Embedding(10, 4, sparse=True), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="sparse=True"):
        deepcomp.prune(model, sparsity=0.5)
    assert type(model[0]) is nn.Embedding and type(model[1]) is nn.Linear
    with pytest.raises(ValueError, match="sparse=True"):
        deepcomp.nn.SharedEmbedding(10, 4, sparse=True)
    with pytest.raises(ValueError, match="sparse=True"):
        deepcomp.prune(nn.Sequential(nn.EmbeddingBag(10, 4, sparse=True)), sparsity=0.5)


def test_the_default_widths_follow_the_layer_kind():
    model = nn.Sequential(nn.Embedding(40, 8), nn.Conv1d(8, 8, 3), nn.Linear(8, 8), nn.EmbeddingBag(40, 8))
    deepcomp.quantize(model)
    assert [layer.bits for layer in model] == [8, 8, 5, 8]
