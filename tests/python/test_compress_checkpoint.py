"""`deepcomp compress CHECKPOINT -o OUT`: a state dict compressed without the model's code, by the same
decisions as deepcomp.prune and deepcomp.quantize."""
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

import deepcomp


def _model():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10), nn.BatchNorm1d(10))


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "deepcomp", *map(str, args)], capture_output=True, text=True)


def test_a_checkpoint_compresses_as_its_model_would(tmp_path):
    torch.manual_seed(0)
    model = _model()
    torch.save(model.state_dict(), tmp_path / "model.pt")
    done = _cli("compress", tmp_path / "model.pt", "-o", tmp_path / "model.dcz", "--sparsity", "0.5",
                "--layer-bits", "3=4")
    assert done.returncode == 0, done.stderr
    assert "kept %" in done.stdout and "entropy" in done.stdout and "total (file)" in done.stdout
    loaded = deepcomp.load(tmp_path / "model.dcz", _model(), match_layers=True)
    assert type(loaded[0]) is deepcomp.nn.SharedConv2d and loaded[0].bits == 8
    assert type(loaded[3]) is deepcomp.nn.SharedLinear and loaded[3].bits == 4
    # The same decisions as the model-level pipeline on the same weights.
    deepcomp.prune(model, sparsity=0.5)
    deepcomp.quantize(model, bits={"3": 4})
    expected = model.state_dict()
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, expected[name]), name


def test_prune_only_and_layer_selection():
    torch.manual_seed(1)
    state = _model().state_dict()
    out, pruned, quantized = deepcomp.compress_state(state, sensitivity=0.5, quantize=False, exclude=["0"])
    assert quantized is None and [row.name for row in pruned] == ["3"]
    assert torch.equal(out["0.weight"], state["0.weight"]) and "0.mask" not in out
    assert torch.equal(out["3.weight"], state["3.weight"] * out["3.mask"])
    with pytest.raises(ValueError, match="no layer named '9'"):
        deepcomp.compress_state(state, layers=["9"])


def test_bad_checkpoints_are_one_line_errors(tmp_path):
    torch.save({"weights": [1, 2, 3]}, tmp_path / "list.pt")
    done = _cli("compress", tmp_path / "list.pt", "-o", tmp_path / "x.dcz")
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "not a state dict" in done.stderr
    torch.save(_model().state_dict(), tmp_path / "model.pt")
    (tmp_path / "exists.dcz").write_bytes(b"keep me")
    done = _cli("compress", tmp_path / "model.pt", "-o", tmp_path / "exists.dcz")
    assert done.returncode == 1 and "--force" in done.stderr
    assert (tmp_path / "exists.dcz").read_bytes() == b"keep me"
    done = _cli("compress", tmp_path / "model.pt", "-o", tmp_path / "y.dcz", "--layer-bits", "3")
    assert done.returncode == 2 and "LAYER=BITS" in done.stderr


def test_a_torchvision_checkpoint_in_safetensors_goes_through_compress_and_decompress(tmp_path):
    from safetensors.torch import load_file, save_file
    from torchvision.models import mobilenet_v3_small

    torch.manual_seed(2)
    model = mobilenet_v3_small(num_classes=10).eval()  # BatchNorm, depthwise and grouped convs, Linear
    save_file(model.state_dict(), tmp_path / "model.safetensors")
    done = _cli("compress", tmp_path / "model.safetensors", "-o", tmp_path / "model.dcz", "--sparsity", "0.5")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "model.dcz").stat().st_size * 4 < (tmp_path / "model.safetensors").stat().st_size
    done = _cli("decompress", tmp_path / "model.dcz", tmp_path / "dense.safetensors")
    assert done.returncode == 0 and "safetensors.torch.load_file" in done.stdout, done.stderr
    dense = load_file(tmp_path / "dense.safetensors")
    restored = mobilenet_v3_small(num_classes=10).eval()
    restored.load_state_dict(dense)
    quantized = deepcomp.load(tmp_path / "model.dcz", mobilenet_v3_small(num_classes=10).eval(), match_layers=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(restored(x), quantized(x), rtol=1e-4, atol=1e-5)
    kept = dense["classifier.0.weight"] != 0
    assert 0.45 <= kept.float().mean() <= 0.55


def test_a_checkpoint_of_1d_and_3d_convolutions_compresses_as_its_model_would():
    torch.manual_seed(0)

    def model():
        return nn.Sequential(nn.Conv1d(3, 4, 3), nn.Conv3d(1, 2, 2), nn.Linear(5, 5))

    state, _, report = deepcomp.compress_state(model().state_dict(), sparsity=0.5)
    assert [(row.name, row.kind, row.bits) for row in report.layers] == [("0", "Conv1d", 8), ("1", "Conv3d", 8),
                                                                         ("2", "Linear", 5)]
    loaded = deepcomp.match_layers(model(), state)
    loaded.load_state_dict(state)
    assert [type(layer).__name__ for layer in loaded] == ["SharedConv1d", "SharedConv3d", "SharedLinear"]


def test_group_size_gives_a_checkpoint_the_per_group_codebooks_its_model_would_get(tmp_path):
    torch.manual_seed(2)
    model = _model()
    torch.save(model.state_dict(), tmp_path / "model.pt")
    done = _cli("compress", tmp_path / "model.pt", "-o", tmp_path / "model.dcz", "--bits", "4", "--group-size", "3")
    assert done.returncode == 0, done.stderr
    loaded = deepcomp.load(tmp_path / "model.dcz", _model(), match_layers=True)
    assert loaded[0].codebook.shape == (2, 16) and loaded[3].codebook.shape == (4, 16)  # ceil(4/3), ceil(10/3)
    deepcomp.quantize(model, bits=4, group_size=3)
    expected = model.state_dict()
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, expected[name]), name


def test_attention_s_in_proj_weight_in_a_checkpoint_compresses_as_its_model_would():
    torch.manual_seed(4)

    def model():
        holder = nn.Module()
        holder.attn = nn.MultiheadAttention(8, 2)
        return holder

    dense = model()
    state, _, report = deepcomp.compress_state(dense.state_dict(), sparsity=0.5, bits=4)
    assert [(row.name, row.kind, row.bits) for row in report.layers] == [("attn", "MultiheadAttention", 4),
                                                                         ("attn.out_proj", "Linear", 4)]
    assert "attn.in_proj_weight" not in state and state["attn.in_proj_codebook"].shape == (16,)
    loaded = deepcomp.match_layers(model(), state)
    loaded.load_state_dict(state)
    assert type(loaded.attn).__name__ == "SharedMultiheadAttention"
    deepcomp.prune(dense, sparsity=0.5)
    deepcomp.quantize(dense, bits=4)
    for name, tensor in dense.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def test_max_bytes_picks_each_layer_s_bits_for_the_file_size(tmp_path):
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.Linear(512, 10))
    state = model.state_dict()
    fp32 = 4 * sum(t.numel() for t in state.values())
    chosen = []
    for rate in (6, 8, 10):
        out, _, report = deepcomp.compress_state(state, max_bytes=fp32 / rate)
        size = deepcomp.save(out, tmp_path / "budget.dcz").file_bytes
        assert 0.9 * fp32 / rate < size <= fp32 / rate, rate  # the widths are chosen to fill the budget
        chosen.append({row.name: row.bits for row in report.layers})
        # The same tensors as quantizing with those widths.
        again, _, _ = deepcomp.compress_state(state, bits=chosen[-1])
        assert all(torch.equal(again[name], tensor) for name, tensor in out.items())
    assert chosen[0] != chosen[-1] and all(chosen[0][layer] >= chosen[-1][layer] for layer in chosen[0])
    # The CLI's --max-bytes is the same call.
    torch.save(state, tmp_path / "model.pt")
    done = _cli("compress", tmp_path / "model.pt", "-o", tmp_path / "cli.dcz", "--max-bytes", int(fp32 / 8))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cli.dcz").stat().st_size <= fp32 / 8
    with pytest.raises(ValueError, match="pass bits= or max_bytes=, not both"):
        deepcomp.compress_state(state, bits=4, max_bytes=fp32 / 8)
    with pytest.raises(ValueError, match="no measured widths fit 1000 bytes; the smallest file they make is"):
        deepcomp.compress_state(state, max_bytes=1000)
    done = _cli("compress", tmp_path / "model.pt", "-o", tmp_path / "x.dcz", "--bits", 4, "--max-bytes", 9000)
    assert done.returncode != 0 and "pass one of --bits, --layer-bits or --max-bytes" in done.stderr
