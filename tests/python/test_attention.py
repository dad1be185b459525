"""nn.MultiheadAttention's packed in_proj_weight through the pipeline: prune (pruned weights exactly 0,
their gradient 0), quantize (per-cluster codebook gradients), save/load under torch's names, match_layers,
to_plain, sensitivity and calibration. The reference is always torch's own attention with the weight set
by hand, on self-attention and cross-attention, batch_first or not, with masks."""
import copy
import warnings

import pytest
import torch
import torch.nn as nn

import deepcomp
from deepcomp.nn import MaskedMultiheadAttention, SharedMultiheadAttention


class Encoder(nn.Module):
    def __init__(self, batch_first=True, bias=True, add_bias_kv=False):
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 4, bias=bias, add_bias_kv=add_bias_kv, batch_first=batch_first)
        self.head = nn.Linear(16, 3)

    def forward(self, x, memory=None, **kwargs):
        memory = x if memory is None else memory
        return self.head(self.attn(x, memory, memory, **kwargs)[0])


# name -> (model arguments, inputs (x, memory), forward keyword arguments)
CASES = {
    "self-attention": ({}, (torch.randn(2, 5, 16), None), {"need_weights": False}),
    "cross-attention, masks": ({}, (torch.randn(2, 5, 16), torch.randn(2, 7, 16)),
                               {"key_padding_mask": torch.tensor([[False] * 6 + [True]] * 2),
                                "attn_mask": torch.triu(torch.ones(5, 7, dtype=torch.bool), diagonal=3)}),
    "sequence first, bias_k/v, no bias": ({"batch_first": False, "bias": False, "add_bias_kv": True},
                                          (torch.randn(5, 2, 16), None), {"is_causal": False}),
}


def _case(name):
    torch.manual_seed(0)
    arguments, (x, memory), kwargs = CASES[name]
    return Encoder(**arguments), x, memory, kwargs


def _plain_with(model, in_proj_weight):
    """model's attention as torch's own layer, computing with in_proj_weight."""
    plain = deepcomp.to_plain(copy.deepcopy(model))
    with torch.no_grad():
        plain.attn.in_proj_weight.copy_(in_proj_weight)
    return plain


def _loss(output):
    return (output * torch.linspace(-1, 1, output.numel()).view_as(output)).sum()


@pytest.mark.parametrize("name", list(CASES))
def test_pruned_attention_computes_with_its_masked_projection_and_never_grows_back(name):
    model, x, memory, kwargs = _case(name)
    dense = model.attn
    report = deepcomp.prune(model, sparsity=0.6, exclude=["attn.out_proj"])
    attn = model.attn
    assert isinstance(attn, MaskedMultiheadAttention) and isinstance(attn, nn.MultiheadAttention)
    assert attn.in_proj_weight is dense.in_proj_weight and attn.weight is attn.in_proj_weight
    assert attn.out_proj is dense.out_proj and attn.in_proj_bias is dense.in_proj_bias
    assert [(row.name, row.kind) for row in report] == [("attn", "MultiheadAttention"), ("head", "Linear")]
    assert attn.in_proj_mask.shape == (48, 16) and torch.all(attn.in_proj_weight[~attn.in_proj_mask] == 0)

    plain = _plain_with(model, attn.in_proj_weight * attn.in_proj_mask)
    output = model(x, memory, **kwargs)
    torch.testing.assert_close(output, plain(x, memory, **kwargs), rtol=0, atol=1e-6)
    _loss(output).backward()
    _loss(plain(x, memory, **kwargs)).backward()
    assert torch.all(attn.in_proj_weight.grad[~attn.in_proj_mask] == 0)
    torch.testing.assert_close(attn.in_proj_weight.grad, plain.attn.in_proj_weight.grad * attn.in_proj_mask)

    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        _loss(model(x, memory, **kwargs)).backward()
        optimizer.step()
    assert torch.all(attn.in_proj_weight[~attn.in_proj_mask] == 0)


@pytest.mark.parametrize("name", list(CASES))
def test_quantized_attention_trains_its_codebook_by_per_cluster_sums(name):
    model, x, memory, kwargs = _case(name)
    deepcomp.prune(model, sparsity=0.5, exclude=["attn.out_proj"])
    mask = model.attn.in_proj_mask.clone()
    deepcomp.quantize(model, bits=3, exclude=["attn.out_proj"])
    attn = model.attn
    assert isinstance(attn, SharedMultiheadAttention) and attn.bits == 3 and torch.equal(attn.mask, mask)
    assert attn.codebook is attn.in_proj_codebook and attn.in_proj_codebook.shape == (8,)
    weight = attn.in_proj_weight.detach()
    assert torch.all(weight[~mask] == 0) and torch.equal(weight, attn.weight.detach())

    plain = _plain_with(model, weight)
    output = model(x, memory, **kwargs)
    torch.testing.assert_close(output, plain(x, memory, **kwargs), rtol=0, atol=1e-6)
    _loss(output).backward()
    _loss(plain(x, memory, **kwargs)).backward()
    per_cluster = torch.zeros(8).index_add_(0, attn.in_proj_indices[mask].long(), plain.attn.in_proj_weight.grad[mask])
    torch.testing.assert_close(attn.in_proj_codebook.grad, per_cluster, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("stage", ["masked", "shared"])
def test_attention_round_trips_through_the_file_under_torch_s_names(stage, tmp_path):
    model, x, memory, kwargs = _case("cross-attention, masks")
    deepcomp.prune(model, sparsity=0.5, exclude=["attn.out_proj"])
    if stage == "shared":
        deepcomp.quantize(model, bits=4, group_size=12, exclude=["attn.out_proj"])
        assert model.attn.codebook_groups == 4
    expected = model(x, memory, **kwargs)
    report = deepcomp.save(model, tmp_path / "m.dcz")
    stored = {t.name: t.kind for t in report.tensors}
    assert stored["attn.in_proj_weight"] == ("sparse_codebook" if stage == "shared" else "sparse_raw")

    fresh = deepcomp.load(tmp_path / "m.dcz", _case("cross-attention, masks")[0], match_layers=True)
    assert type(fresh.attn) is type(model.attn)
    assert fresh.state_dict().keys() == model.state_dict().keys()
    for key, tensor in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], tensor), key
    assert torch.equal(fresh(x, memory, **kwargs), expected)

    plain = deepcomp.load(tmp_path / "m.dcz", _case("cross-attention, masks")[0])  # torch's layer, decoded
    assert type(plain.attn) is nn.MultiheadAttention
    torch.testing.assert_close(plain(x, memory, **kwargs), expected, rtol=0, atol=1e-6)
    assert torch.equal(deepcomp.load(tmp_path / "m.dcz")["attn.in_proj_weight"], plain.attn.in_proj_weight)
    back = deepcomp.to_plain(copy.deepcopy(model))
    assert type(back.attn) is nn.MultiheadAttention and torch.equal(back.attn.in_proj_weight, plain.attn.in_proj_weight)


def test_sensitivity_and_calibration_see_the_projection():
    model, x, memory, kwargs = _case("self-attention")
    before = copy.deepcopy(model.state_dict())
    reference = model(x).detach()
    report = deepcomp.sensitivity(model, lambda m: float((m(x) - reference).abs().mean().detach()),
                                  sparsities=(0.0, 0.9), bits=(1, 8), layers=["attn"], progress=False)
    rows = {(row.kind, row.value): row.metric for row in report.points}
    assert rows[("prune", 0.0)] == 0 and rows[("prune", 0.9)] > 0 and rows[("quantize", 1.0)] > rows[("quantize", 8.0)]
    for key, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[key]), key

    calibration = deepcomp.calibrate(model, [x], layers=["attn"])
    assert calibration["attn"].samples == 10
    torch.testing.assert_close(calibration["attn"].mean_square(), x.double().reshape(10, 16).square().mean(0))
    deepcomp.prune(model, sparsity=0.5, criterion="activation", calibration=calibration, layers=["attn"])
    assert isinstance(model.attn, MaskedMultiheadAttention)


def test_attention_with_separate_projections_is_skipped_with_the_reason():
    model = nn.Sequential(nn.MultiheadAttention(16, 4, kdim=8, vdim=8), nn.Linear(4, 4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        deepcomp.prune(model, sparsity=0.5)
    assert any("separate q, k and v projections" in str(w.message) for w in caught)
    assert type(model[0]) is nn.MultiheadAttention
    with pytest.raises(ValueError, match="kdim and vdim must be embed_dim"):
        SharedMultiheadAttention(16, 4, kdim=8, vdim=8)


def test_a_fresh_shared_attention_is_torch_s_initialisation_clustered():
    torch.manual_seed(3)
    layer = SharedMultiheadAttention(16, 4, add_bias_kv=True, bits=6)
    assert layer.bits == 6 and layer.in_proj_indices.shape == (48, 16) and layer.bias_k.shape == (1, 1, 16)
    assert isinstance(layer.out_proj, nn.Linear) and layer.out_proj.weight.abs().sum() > 0
    assert SharedMultiheadAttention(16, 4).bits == 5  # fully connected: the paper's 5 bits
    x = torch.randn(3, 2, 16)
    output, weights = layer(x, x, x)
    assert output.shape == (3, 2, 16) and weights.shape == (2, 3, 4)


def test_out_proj_is_pruned_and_quantized_as_a_linear_layer_with_its_guarantees(tmp_path):
    model, x, memory, kwargs = _case("cross-attention, masks")
    report = deepcomp.prune(model, sparsity=0.5)
    assert [row.name for row in report] == ["attn", "attn.out_proj", "head"]
    attn, out_proj = model.attn, model.attn.out_proj
    assert isinstance(out_proj, deepcomp.nn.MaskedLinear) and torch.all(out_proj.weight[~out_proj.mask] == 0)
    plain = _plain_with(model, attn.in_proj_weight.detach())
    output = model(x, memory, **kwargs)
    torch.testing.assert_close(output, plain(x, memory, **kwargs), rtol=0, atol=1e-6)
    _loss(output).backward()
    _loss(plain(x, memory, **kwargs)).backward()
    torch.testing.assert_close(out_proj.weight.grad, plain.attn.out_proj.weight.grad * out_proj.mask)
    assert torch.all(out_proj.weight.grad[~out_proj.mask] == 0)

    deepcomp.quantize(model, bits=4)
    out_proj = model.attn.out_proj
    assert isinstance(out_proj, deepcomp.nn.SharedLinear)
    plain = _plain_with(model, model.attn.in_proj_weight.detach())
    output = model(x, memory, **kwargs)
    torch.testing.assert_close(output, plain(x, memory, **kwargs), rtol=0, atol=1e-6)
    _loss(output).backward()
    _loss(plain(x, memory, **kwargs)).backward()
    kept = out_proj.mask
    per_cluster = torch.zeros(16).index_add_(0, out_proj.indices[kept].long(), plain.attn.out_proj.weight.grad[kept])
    torch.testing.assert_close(out_proj.codebook.grad, per_cluster, rtol=1e-5, atol=1e-6)

    deepcomp.save(model, tmp_path / "m.dcz")
    fresh = deepcomp.load(tmp_path / "m.dcz", _case("cross-attention, masks")[0], match_layers=True)
    assert type(fresh.attn.out_proj) is deepcomp.nn.SharedLinear and torch.equal(fresh(x, memory, **kwargs), output)
    compressed = deepcomp.load(tmp_path / "m.dcz", _case("cross-attention, masks")[0], compressed=True)
    assert type(compressed.attn.out_proj) is deepcomp.nn.CompressedLinear
    torch.testing.assert_close(compressed(x, memory, **kwargs), output, rtol=0, atol=1e-5)
    back = deepcomp.to_plain(fresh)
    assert type(back.attn) is nn.MultiheadAttention and type(back.attn.out_proj) is nn.Linear
    torch.testing.assert_close(back(x, memory, **kwargs), output, rtol=0, atol=1e-6)


def test_pruning_out_proj_alone_makes_its_attention_compute_it_masked():
    model, x, memory, kwargs = _case("self-attention")
    deepcomp.prune(model, sparsity=0.5, layers=["attn.out_proj"])
    attn = model.attn
    assert isinstance(attn, MaskedMultiheadAttention) and bool(attn.in_proj_mask.all())
    assert isinstance(attn.out_proj, deepcomp.nn.MaskedLinear)
    _loss(model(x, memory, **kwargs)).backward()
    assert torch.all(attn.out_proj.weight.grad[~attn.out_proj.mask] == 0)
