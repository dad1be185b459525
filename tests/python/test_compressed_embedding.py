"""deepcomp.nn.CompressedEmbedding: a quantized embedding kept as compressed rows, decoding only the rows a
lookup reads; through load(compressed=True) and to_plain."""
import pytest
import torch
import torch.nn as nn

import deepcomp
from deepcomp.nn import CompressedEmbedding, SharedEmbedding


def _shared(max_norm=None, padding_idx=None):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(40, 12, padding_idx=padding_idx, max_norm=max_norm))
    deepcomp.prune(model, sparsity=0.6)
    deepcomp.quantize(model, bits=4)
    return model


@pytest.mark.parametrize("options", [{}, {"padding_idx": 3}, {"max_norm": 0.5}])
def test_a_lookup_equals_the_shared_layer_and_reads_only_its_rows(options):
    model = _shared(**options)
    shared = model[0]
    compressed = CompressedEmbedding.from_shared(shared)
    tokens = torch.tensor([[0, 3, 39, 3], [7, 7, 1, 20]])
    expected = nn.functional.embedding(tokens, shared.weight.detach(), max_norm=options.get("max_norm"))
    torch.testing.assert_close(compressed(tokens), expected, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(compressed(tokens), shared(tokens).detach(), rtol=1e-6, atol=1e-7)
    assert compressed(torch.tensor([], dtype=torch.long)).shape == (0, 12)
    assert compressed.kept() == shared.kept() and compressed.bits == 4
    assert torch.equal(compressed.weight, shared.weight.detach())
    # 4 bytes per kept weight, 8 per row pointer and the codebook: what it holds in memory
    held = sum(t.numel() * t.element_size() for t in compressed.buffers())
    assert held == 4 * shared.kept() + 8 * 41 + 4 * 16


def test_bad_lookups_are_clear_errors():
    compressed = CompressedEmbedding.from_shared(_shared()[0])
    with pytest.raises(IndexError, match="out of range for 40 rows"):
        compressed(torch.tensor([40]))
    with pytest.raises(IndexError, match="out of range"):
        compressed(torch.tensor([-1]))
    with pytest.raises(TypeError, match="indices"):
        compressed(torch.tensor([1.0]))
    with pytest.raises(TypeError, match="SharedEmbedding"):
        CompressedEmbedding.from_shared(nn.Embedding(3, 3))


def test_load_compressed_turns_quantized_embeddings_into_compressed_ones(tmp_path):
    model = nn.Sequential(nn.Embedding(40, 12), nn.Linear(12, 5))
    deepcomp.prune(model, sparsity=0.5)
    deepcomp.quantize(model, bits=4)
    tokens = torch.randint(0, 40, (3, 6))
    expected = model(tokens).detach()
    deepcomp.save(model, tmp_path / "m.dcz")
    loaded = deepcomp.load(tmp_path / "m.dcz", nn.Sequential(nn.Embedding(40, 12), nn.Linear(12, 5)), compressed=True)
    assert type(loaded[0]) is CompressedEmbedding and type(loaded[1]) is deepcomp.nn.CompressedLinear
    torch.testing.assert_close(loaded(tokens), expected, rtol=1e-5, atol=1e-6)
    plain = deepcomp.to_plain(loaded)
    assert type(plain[0]) is nn.Embedding and type(plain[1]) is nn.Linear
    torch.testing.assert_close(plain(tokens), expected, rtol=1e-5, atol=1e-6)
    deepcomp.save(_shared()[0], tmp_path / "one.dcz")
    with pytest.raises(TypeError, match="the model itself is a SharedEmbedding"):
        deepcomp.load(tmp_path / "one.dcz", SharedEmbedding(40, 12, bits=4), compressed=True)


@pytest.mark.parametrize("options,input,kwargs", [
    ({"mode": "sum"}, torch.tensor([4, 0, 29, 7, 7, 2, 9]),
     {"offsets": torch.tensor([0, 3, 3, 5]), "per_sample_weights": torch.linspace(-1, 2, 7)}),
    ({"mode": "max", "padding_idx": 1}, torch.tensor([[0, 1, 5], [29, 7, 1], [1, 1, 1]]), {}),
    ({"mode": "mean", "max_norm": 1.0, "include_last_offset": True, "padding_idx": 3},
     torch.tensor([3, 8, 8, 21, 0, 3]), {"offsets": torch.tensor([0, 2, 5, 6])}),
])
def test_a_compressed_embedding_bag_reduces_its_decoded_rows_as_the_shared_one(options, input, kwargs, tmp_path):
    torch.manual_seed(7)
    model = torch.nn.Sequential(torch.nn.EmbeddingBag(30, 6, **options))
    deepcomp.prune(model, sparsity=0.6)
    deepcomp.quantize(model, bits=3, group_size=8)
    expected = model[0](input, **kwargs)
    compressed = deepcomp.nn.CompressedEmbeddingBag.from_shared(model[0])
    torch.testing.assert_close(compressed(input, **kwargs), expected, rtol=0, atol=1e-6)
    assert torch.equal(compressed.weight, model[0].weight)
    deepcomp.save(model, tmp_path / "bag.dcz")
    loaded = deepcomp.load(tmp_path / "bag.dcz", torch.nn.Sequential(torch.nn.EmbeddingBag(30, 6, **options)),
                           compressed=True)
    assert type(loaded[0]) is deepcomp.nn.CompressedEmbeddingBag and loaded[0].mode == options["mode"]
    torch.testing.assert_close(loaded[0](input, **kwargs), expected, rtol=0, atol=1e-6)
    plain = loaded[0].to_plain()
    torch.testing.assert_close(plain(input, **kwargs), expected, rtol=0, atol=1e-6)
