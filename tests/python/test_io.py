"""deepcomp.save / load / inspect: the .dcz file round trip, its report, and its errors."""
import os
import random

import pytest
import torch
import torch.nn as nn

import deepcomp
from deepcomp.nn import MaskedConv2d, MaskedLinear, SharedConv2d, SharedLinear


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 6, 3), nn.BatchNorm2d(6), nn.ReLU(), nn.Conv2d(6, 8, 3))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8 * 4 * 4, 40), nn.ReLU(), nn.Linear(40, 20),
                                        nn.ReLU(), nn.Linear(20, 3))

    def forward(self, x):
        return self.classifier(self.features(x))


def compressed_net():
    """Every kind of layer the file knows: shared conv (dense codebook), shared linear (sparse
    codebook), masked conv and linear (sparse raw), plain linear and batch norm (raw)."""
    model = Net()
    deepcomp.prune(model, sparsity={"features.3": 0.6, "classifier.1": 0.9, "classifier.3": 0.7})
    deepcomp.quantize(model, layers=["features.0", "classifier.1"])
    model.features[1].running_mean.uniform_(-1, 1)
    model.features[1].num_batches_tracked.fill_(17)
    assert type(model.features[3]) is MaskedConv2d and type(model.classifier[3]) is MaskedLinear
    return model


def assert_states_equal(a: nn.Module, b: nn.Module):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for name in sa:
        assert sa[name].dtype == sb[name].dtype, name
        assert torch.equal(sa[name], sb[name]), name


def test_round_trip_restores_every_layer_exactly(tmp_path):
    model = compressed_net()
    path = tmp_path / "net.dcz"
    report = deepcomp.save(model, path)
    fresh = compressed_net()  # other random weights, same structure
    assert deepcomp.load(path, fresh) is fresh
    assert_states_equal(fresh, model)
    x = torch.randn(4, 1, 8, 8)
    model.eval(), fresh.eval()
    assert torch.equal(fresh(x), model(x))
    kinds = {t.name: t.kind for t in report}
    assert kinds["features.0.weight"] == "dense_codebook"
    assert kinds["classifier.1.weight"] == "sparse_codebook"
    assert kinds["features.3.weight"] == kinds["classifier.3.weight"] == "sparse_raw"
    assert kinds["classifier.5.weight"] == kinds["features.1.running_mean"] == "raw"
    assert "classifier.1.codebook" not in kinds and "classifier.1.mask" not in kinds


def test_plain_model_gets_the_decoded_weights(tmp_path):
    model = compressed_net()
    path = tmp_path / "net.dcz"
    deepcomp.save(model, path)
    plain = deepcomp.load(path, Net())
    for name in ("features.0", "features.3", "classifier.1", "classifier.3"):
        layer = dict(model.named_modules())[name]
        assert torch.equal(dict(plain.named_modules())[name].weight, layer.weight.detach()), name
    model.eval(), plain.eval()
    x = torch.randn(4, 1, 8, 8)
    torch.testing.assert_close(plain(x), model(x))
    dense = deepcomp.load(path)
    assert list(dense) == list(Net().state_dict())
    assert torch.equal(dense["classifier.1.weight"], model.classifier[1].weight.detach())
    assert dense["features.1.num_batches_tracked"].item() == 17


def test_match_layers_gives_a_fresh_dense_model_the_saved_layers(tmp_path):
    model = compressed_net()
    path = tmp_path / "net.dcz"
    deepcomp.save(model, path)
    fresh = deepcomp.load(path, Net(), match_layers=True)
    for name, layer in model.named_modules():
        twin = dict(fresh.named_modules())[name]
        assert type(twin) is type(layer), name
        if isinstance(layer, (SharedConv2d, SharedLinear)):
            assert twin.bits == layer.bits, name
    assert_states_equal(fresh, model)
    model.eval(), fresh.eval()
    x = torch.randn(4, 1, 8, 8)
    assert torch.equal(fresh(x), model(x))
    inference = deepcomp.load(path, Net(), compressed=True, match_layers=True)
    assert type(inference.classifier[1]) is deepcomp.nn.CompressedLinear
    assert type(inference.features[0]) is SharedConv2d and type(inference.features[3]) is MaskedConv2d
    torch.testing.assert_close(inference.eval()(x), model(x))
    with pytest.raises(ValueError, match="match_layers=True needs a model"):
        deepcomp.load(path, match_layers=True)
    other = Net()
    other.classifier[1] = nn.Linear(9, 40)
    with pytest.raises(ValueError, match=r"'classifier.1'.*(indices|mask) has shape \(40, 128\), the layer needs \(40, 9\)"):
        deepcomp.load(path, other, match_layers=True)
    assert type(other.features[0]) is nn.Conv2d  # nothing changed


def test_load_state_gives_the_tensors_a_model_would_load(tmp_path):
    model = compressed_net()
    path = tmp_path / "net.dcz"
    deepcomp.save(model, path)
    names = list(model.state_dict())
    state = deepcomp.load_state(path, names)
    assert list(state) == names
    for name, tensor in model.state_dict().items():
        assert torch.equal(state[name], tensor), name
    with pytest.raises(ValueError, match="'head.weight'"):
        deepcomp.load_state(path, names + ["head.weight"])
    with pytest.raises(TypeError, match="list of tensor names"):
        deepcomp.load_state(path, "classifier.1.codebook")


def test_fine_tuning_goes_on_after_load(tmp_path):
    model = compressed_net()
    path = tmp_path / "net.dcz"
    deepcomp.save(model, path)
    fresh = deepcomp.load(path, compressed_net())
    layer = fresh.classifier[1]
    before = layer.codebook.detach().clone()
    optimizer = torch.optim.SGD(fresh.parameters(), lr=0.1)
    fresh(torch.randn(8, 1, 8, 8)).square().sum().backward()
    optimizer.step()
    assert not torch.equal(layer.codebook, before)
    assert torch.equal(layer.indices, model.classifier[1].indices)
    assert (layer.weight.detach()[~layer.mask] == 0).all()


def test_report_counts_the_real_file(tmp_path):
    model = compressed_net()
    path = tmp_path / "net.dcz"
    report = deepcomp.save(model, path)
    assert report.file_bytes == os.path.getsize(path)
    assert sum(t.bytes for t in report) + 24 == report.file_bytes
    assert report.dense_bytes == 4 * sum(t.numel() for t in Net().state_dict().values())
    assert report.rate == pytest.approx(report.dense_bytes / report.file_bytes)
    fc1 = report["classifier.1.weight"]
    mask = model.classifier[1].mask
    assert (fc1.weights, fc1.kept) == (mask.numel(), int(mask.sum()))
    assert fc1.kept_fraction == pytest.approx(0.1, abs=0.01)
    assert (fc1.index_bits, fc1.gap_bits) == (5, 5)
    assert 0 < fc1.index_bits_coded < 8 and 0 < fc1.gap_bits_coded < 8
    assert fc1.gap_entries >= fc1.kept
    assert fc1.rate == pytest.approx(4 * fc1.weights / fc1.bytes)
    assert fc1.index_bytes_before_huffman == (fc1.kept * fc1.index_bits + 7) // 8
    assert fc1.gap_bytes_before_huffman == (fc1.gap_entries * fc1.gap_bits + 7) // 8
    assert fc1.bytes_before_huffman == fc1.codebook_bytes + fc1.index_bytes_before_huffman + fc1.gap_bytes_before_huffman
    assert report["features.3.weight"].gap_bits == 8  # conv: the paper's 8-bit gaps
    text = str(report)
    for word in ("classifier.1.weight", "sparse_codebook", "raw tensors", "total", "rate P+Q"):
        assert word in text
    again = deepcomp.inspect(path)
    assert str(again) == text and again.file_bytes == report.file_bytes
    with pytest.raises(KeyError):
        report["nope"]


def test_pruned_quantized_layer_compresses_like_the_paper(tmp_path):
    """fc1 of LeNet-300-100 at the paper's 8 % density and 5 bits: the paper reports 40x for the
    whole network; a random weight's indices are near-uniform, so expect at least 30x here."""
    torch.manual_seed(1)
    layer = nn.Linear(784, 300, bias=False)
    model = nn.Sequential(layer)
    deepcomp.prune(model, sparsity=0.92)
    deepcomp.quantize(model, bits=5)
    report = deepcomp.save(model, tmp_path / "fc1.dcz")
    assert report.rate > 30


@pytest.mark.parametrize("gap_bits", [1, 2, 3, 8])
@pytest.mark.parametrize("max_code_length", [5, 15])
def test_options_round_trip(tmp_path, gap_bits, max_code_length):
    model = compressed_net()
    path = tmp_path / "net.dcz"
    report = deepcomp.save(model, path, gap_bits=gap_bits, max_code_length=max_code_length)
    assert report["classifier.1.weight"].gap_bits == gap_bits
    assert_states_equal(deepcomp.load(path, compressed_net()), model)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_dtypes_and_odd_shapes_round_trip(tmp_path, dtype):
    model = nn.Sequential(MaskedLinear(10, 6, dtype=dtype), SharedLinear(6, 4, bits=3, dtype=dtype))
    with torch.no_grad():
        model[0].mask.copy_(torch.rand(6, 10) < 0.5)
        model[0].weight.mul_(model[0].mask)
    state = dict(model.state_dict())
    state.update({"scalar": torch.tensor(3.5), "empty": torch.zeros(0, 3), "flags": torch.rand(7) < 0.5,
                  "counts": torch.arange(-5, 5, dtype=torch.int64), "small": torch.arange(4, dtype=torch.int8)})
    path = tmp_path / "odd.dcz"
    deepcomp.save(state, path)
    dense = deepcomp.load(path)
    for name, tensor in state.items():
        if name.endswith(("mask", "indices", "codebook")):
            continue
        assert dense[name].dtype == tensor.dtype and torch.equal(dense[name], tensor), name
    assert torch.equal(dense["1.weight"], model[1].weight.detach())


def test_bad_arguments_and_mismatches_are_clear_errors(tmp_path):
    path = tmp_path / "net.dcz"
    with pytest.raises(TypeError, match="nn.Module or a state dict"):
        deepcomp.save([1, 2], path)
    with pytest.raises(ValueError, match="gap_bits must be in 1..8"):
        deepcomp.save(Net(), path, gap_bits=0)
    with pytest.raises(ValueError, match="max_code_length must be in 1..15"):
        deepcomp.save(Net(), path, max_code_length=16)
    with pytest.raises(ValueError, match="ComplexFloat, which a .dcz file cannot hold"):
        deepcomp.save({"z": torch.zeros(2, dtype=torch.complex64)}, path)
    assert not path.exists()
    deepcomp.save(Net(), path)
    with pytest.raises(ValueError, match=r"file has nothing for .*'classifier\.1\.codebook'"):
        deepcomp.load(path, compressed_net())
    with pytest.raises(ValueError, match="the model has nothing for the file's"):
        deepcomp.load(path, nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(FileNotFoundError):
        deepcomp.load(tmp_path / "missing.dcz")
    with pytest.raises(FileNotFoundError):
        deepcomp.save(Net(), tmp_path / "no" / "such" / "dir.dcz")


def test_a_failed_save_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "net.dcz"
    deepcomp.save(Net(), path)
    before = path.read_bytes()
    with pytest.raises(ValueError):
        deepcomp.save({"z": torch.zeros(2, dtype=torch.complex64)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["net.dcz"]


def small_file(tmp_path):
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(12, 8), nn.Linear(8, 4))
    deepcomp.prune(model, sparsity=0.7)
    deepcomp.quantize(model, bits=3, layers=["0"])
    path = tmp_path / "small.dcz"
    deepcomp.save(model, path)
    return path, path.read_bytes()


def test_not_a_dcz_file_is_a_format_error(tmp_path):
    path = tmp_path / "x.dcz"
    path.write_bytes(b"PK\x03\x04 not a dcz file at all")
    with pytest.raises(deepcomp.FormatError, match="wrong magic"):
        deepcomp.load(path)
    assert issubclass(deepcomp.FormatError, ValueError)


def test_every_truncation_is_a_format_error(tmp_path):
    path, data = small_file(tmp_path)
    cut = tmp_path / "cut.dcz"
    for size in range(len(data)):
        cut.write_bytes(data[:size])
        with pytest.raises(deepcomp.FormatError):
            deepcomp.load(cut)


def test_random_bit_flips_are_detected_or_harmless(tmp_path):
    path, data = small_file(tmp_path)
    original = deepcomp.load(path)
    rng = random.Random(0)
    flipped = tmp_path / "flipped.dcz"
    detected = 0
    for _ in range(10_000):
        corrupt = bytearray(data)
        bit = rng.randrange(8 * len(data))
        corrupt[bit // 8] ^= 1 << (bit % 8)
        flipped.write_bytes(corrupt)
        try:
            loaded = deepcomp.load(flipped)
        except deepcomp.FormatError:
            detected += 1
            continue
        assert loaded.keys() == original.keys() and all(torch.equal(loaded[k], original[k]) for k in loaded)
    assert detected > 9_900  # every byte is under a checksum
