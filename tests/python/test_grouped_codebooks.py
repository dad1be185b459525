"""Per-group codebooks (quantize(..., group_size=)): the ops, the layers, training, files and export
against plain-indexing references (tests/python/reference.py)."""
import pytest
import torch
import torch.nn as nn

import deepcomp
from deepcomp import ops
from deepcomp.nn import CompressedEmbedding, CompressedLinear, SharedLinear

import reference as ref


def _shared_weight(shape, groups, bits, device, keep=0.7, dtype=torch.float64):
    k = 2 ** bits
    indices = torch.randint(0, k, shape, dtype=torch.uint8, device=device)
    mask = ref.random_mask(shape, keep, device)
    codebook = torch.randn(groups, k, dtype=dtype, device=device)
    return indices, mask, codebook


@pytest.mark.parametrize("shape,groups", [((12, 40), 3), ((12, 40), 5), ((64, 5), 64), ((8, 3, 3, 3), 2),
                                          ((7, 3, 3), 3), ((6, 1000), 1), ((30, 1), 29)])
def test_decode_and_its_gradient_follow_each_slice_s_codebook(device, shape, groups):
    indices, mask, codebook = _shared_weight(shape, groups, 4, device)
    mine, theirs = codebook.clone().requires_grad_(), codebook.clone().requires_grad_()
    decoded = ops.codebook_decode(indices, mask, mine)
    expected = ref.codebook_decode(indices, mask, theirs)
    assert torch.equal(decoded, expected)
    upstream = torch.randn(shape, dtype=torch.float64, device=device)
    decoded.backward(upstream)
    expected.backward(upstream)
    assert mine.grad.shape == (groups, 16)
    assert ref.relative_error(mine.grad, theirs.grad) < 1e-12
    direct = ops.codebook_grad(upstream, indices, mask, 16, groups)
    assert direct.shape == ((groups, 16) if groups > 1 else (16,))
    assert ref.relative_error(direct.view(groups, 16), theirs.grad) < 1e-12


@pytest.mark.parametrize("out_features,in_features,groups,keep", [
    (2048, 16, 256, 1.0),   # groups of 8 rows, several groups per block of the CPU kernel
    (2000, 16, 300, 1.0),   # groups of 6 or 7 rows
    (96, 4096, 3, 1.0),     # blocks of a few rows inside each group
    (97, 4096, 5, 1.0),
    (512, 512, 8, 0.05),    # pruned far enough for the sparse path, which a grouped codebook skips
])
def test_shared_linear_forward_and_backward(device, out_features, in_features, groups, keep):
    indices, mask, codebook = _shared_weight((out_features, in_features), groups, 5, device, keep)
    bias = torch.randn(out_features, dtype=torch.float64, device=device)
    x = torch.randn(7, in_features, dtype=torch.float64, device=device)
    leaves = [t.clone().requires_grad_() for t in (x, codebook, bias)]
    oracle = [t.clone().requires_grad_() for t in (x, codebook, bias)]
    y = ops.shared_linear(leaves[0], indices, mask, leaves[1], leaves[2])
    expected = ref.shared_linear(oracle[0], indices, mask, oracle[1], oracle[2])
    assert ref.relative_error(y, expected) < 1e-12
    upstream = torch.randn_like(y)
    y.backward(upstream)
    expected.backward(upstream)
    for mine, theirs in zip(leaves, oracle):
        assert ref.relative_error(mine.grad, theirs.grad) < 1e-12


@pytest.mark.parametrize("batch", [1, 8, 70])
def test_compressed_linear_reads_each_row_s_codebook(device, batch):
    indices, mask, codebook = _shared_weight((64, 300), 13, 5, device, keep=0.3, dtype=torch.float32)
    row_ptr, entries = torch.ops.deepcomp.compressed_linear_pack(indices, mask)
    x = torch.randn(batch, 300, device=device)
    y = ops.compressed_linear(x, row_ptr, entries, codebook, None)
    assert ref.relative_error(y, x @ ref.codebook_decode(indices, mask, codebook).t()) < 1e-5


def test_bad_groups_are_clear_errors():
    indices, mask, codebook = _shared_weight((12, 4), 3, 2, "cpu")
    with pytest.raises(RuntimeError, match="13 groups has more groups than the weight's first dimension 12"):
        ops.codebook_decode(indices, mask, torch.randn(13, 4, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="1-D .* or 2-D"):
        ops.codebook_decode(indices, mask, torch.randn(3, 2, 2))
    with pytest.raises(ValueError, match="codebook_groups=13 is more than the 12 slices"):
        SharedLinear(4, 12, bits=2, codebook_groups=13)


class Net(nn.Module):
    """Each layer type, with output rows at very different scales (where one codebook fits badly)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(64, 16)
        self.conv = nn.Conv1d(6, 8, 3, padding=1)
        self.up = nn.ConvTranspose1d(8, 4, 3)
        self.fc = nn.Linear(16, 32)
        self.head = nn.Linear(32, 3)
        with torch.no_grad():
            for layer in (self.embed, self.fc, self.conv):
                rows = layer.weight.shape[0]
                layer.weight.mul_(torch.logspace(-2, 1, rows).view(-1, *[1] * (layer.weight.dim() - 1)))

    def forward(self, tokens):
        h = self.embed(tokens)                # (N, 6, 16)
        h = self.up(self.conv(h))             # (N, 4, 18)
        return self.head(torch.relu(self.fc(h[..., :16])))


def _tokens():
    return torch.randint(0, 64, (5, 6))


def test_quantize_gives_each_group_of_rows_its_codebook():
    model, baseline = Net(), Net()
    baseline.load_state_dict(model.state_dict())
    # exact k-means: a slice's optimal codebook fits it at least as well as the layer's, so grouping
    # can only help (Lloyd's iterations stop at local optima, for a group as for a layer)
    report = deepcomp.quantize(model, bits=3, group_size=4, method="exact")
    one = deepcomp.quantize(baseline, bits=3, method="exact")
    groups = {row.name: row.groups for row in report.layers}
    # head has 3 rows <= group_size: one codebook; ConvTranspose groups its input channels
    assert groups == {"embed": 16, "conv": 2, "up": 2, "fc": 8, "head": 1}
    assert model.fc.codebook.shape == (8, 8) and model.head.codebook.shape == (8,)
    assert "groups" in str(report)
    for grouped, single in zip(report.layers, one.layers):
        assert grouped.squared_error <= single.squared_error * (1 + 1e-9), grouped.name
        if grouped.name in ("embed", "fc"):
            assert grouped.squared_error < 0.75 * single.squared_error, grouped.name
    tokens = _tokens()
    assert torch.allclose(model(tokens), deepcomp.to_plain(_copy(model))(tokens), atol=1e-6, rtol=0)


def _copy(model):
    clone = Net()
    deepcomp.match_layers(clone, model.state_dict()).load_state_dict(model.state_dict())
    return clone


def test_fine_tuning_trains_each_group_s_centroids_by_its_own_weights():
    model = Net()
    deepcomp.quantize(model, bits=3, group_size=8)
    theirs = model.fc.codebook.detach().clone().requires_grad_()
    x = torch.randn(4, 16)
    upstream = torch.randn(4, 32)
    (model.fc(x) * upstream).sum().backward()
    (ref.shared_linear(x, model.fc.indices, model.fc.mask, theirs, model.fc.bias.detach()) * upstream).sum().backward()
    assert model.fc.codebook.grad.shape == (4, 8)
    assert ref.relative_error(model.fc.codebook.grad, theirs.grad) < 1e-5


def test_a_group_size_that_does_not_divide_a_layer_gives_groups_as_even_as_possible():
    model = Net()
    dense = {name: layer.weight.detach().clone() for name, layer in model.named_children()}
    report = deepcomp.quantize(model, bits=3, group_size=5)
    # embed: 64 rows -> 13 groups of 4 or 5; conv 8 -> 2 of 4; head 3 <= 5 -> one codebook
    assert {row.name: row.groups for row in report.layers} == {"embed": 13, "conv": 2, "up": 2, "fc": 7, "head": 1}
    sizes = torch.bincount(torch.arange(64) * 13 // 64)
    assert sizes.max() <= 5 and sizes.min() >= 4
    for name in ("embed", "fc"):
        layer = getattr(model, name)
        expected = ref.codebook_decode(layer.indices, layer.mask, layer.codebook)
        assert torch.equal(layer.weight, expected)
        for group in range(layer.codebook_groups):  # each group's codebook is k-means of its own rows
            rows = (torch.arange(layer.mask.shape[0]) * layer.codebook_groups // layer.mask.shape[0]) == group
            codebook, _ = ops.kmeans_quantize(dense[name][rows], None, 3)
            assert torch.equal(layer.codebook[group].detach(), codebook)


def test_bad_group_sizes_are_clear_errors():
    for bad in (0, -2):
        with pytest.raises(ValueError, match="group_size must be >= 1"):
            deepcomp.quantize(Net(), group_size=bad)
    for bad in (2.0, "4", True):
        with pytest.raises(TypeError, match="group_size must be an int"):
            deepcomp.quantize(Net(), group_size=bad)


def test_the_file_stores_the_codebooks_and_loads_back_exactly(tmp_path):
    model = Net()
    deepcomp.prune(model, sparsity=0.6)
    deepcomp.quantize(model, bits=4, group_size=2, exclude=["head"])  # head's 3 rows do not split in 2s
    tokens = _tokens()
    expected = model(tokens)
    path = tmp_path / "grouped.dcz"
    deepcomp.save(model, path)
    assert path.read_bytes()[8:10] == bytes([3, 0])  # format version 3: grouped codebooks
    report = deepcomp.inspect(path)
    fc = next(t for t in report.tensors if t.name == "fc.weight")
    assert fc.codebook_groups == 16 and fc.codebook_bytes == 16 * 16 * 4
    for compressed in (False, True):
        fresh = Net()
        deepcomp.load(path, fresh, compressed=compressed)
        assert torch.allclose(fresh(tokens), expected, atol=1e-6, rtol=0)
    fresh = deepcomp.load(path, Net(), compressed=True)
    assert isinstance(fresh.fc, CompressedLinear) and isinstance(fresh.embed, CompressedEmbedding)
    assert fresh.fc.codebook.shape == (16, 16)
    matched = _copy(model)
    assert matched.fc.codebook_groups == 16 and torch.equal(matched(tokens), expected)


def test_a_file_without_groups_stays_at_version_2(tmp_path):
    model = Net()
    deepcomp.quantize(model, bits=4)
    deepcomp.save(model, tmp_path / "plain.dcz")
    assert (tmp_path / "plain.dcz").read_bytes()[8:10] == bytes([2, 0])


def test_a_compressed_embedding_looks_up_its_rows_with_their_group_s_codebook():
    model = Net()
    deepcomp.quantize(model, bits=3, group_size=4)
    compressed = CompressedEmbedding.from_shared(model.embed)
    tokens = _tokens()
    assert torch.equal(compressed(tokens), model.embed(tokens))
    assert torch.equal(compressed.weight, model.embed.weight)


def test_a_single_group_codebook_is_stored_1d_and_round_trips(tmp_path):
    model = nn.Sequential(nn.Linear(10, 6))
    indices, mask, codebook = _shared_weight((6, 10), 1, 3, "cpu", dtype=torch.float32)
    model[0] = SharedLinear.from_codebook(model[0], codebook, indices, mask)
    assert model[0].codebook.shape == (8,) and model[0].codebook_groups == 1
    assert torch.equal(model[0].codebook, codebook[0])
    x = torch.randn(4, 10)
    expected = model(x)
    deepcomp.save(model, tmp_path / "one.dcz")
    fresh = deepcomp.load(tmp_path / "one.dcz", nn.Sequential(nn.Linear(10, 6)))
    assert torch.equal(fresh(x), expected)
