"""SensitivityReport.bits_for_budget: mixed precision for a file size, from the bits sweep's points."""
import copy
import os

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import deepcomp

INPUT = torch.randn(64, 32, generator=torch.Generator().manual_seed(2))


def _model():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(32, 96), nn.ReLU(), nn.MultiheadAttention(96, 4, batch_first=True),
                          nn.Linear(96, 10))
    return model


def _forward(model, x):
    hidden = model[1](model[0](x)).unsqueeze(0)
    attended, _ = model[2](hidden, hidden, hidden, need_weights=False)
    return model[3](attended.squeeze(0))


def _cosine_to(model):
    with torch.no_grad():
        reference = _forward(model, INPUT)

    def evaluate(candidate):
        with torch.no_grad():
            return float(F.cosine_similarity(_forward(candidate, INPUT), reference).mean())
    return evaluate


def test_the_estimate_is_the_file_quantize_and_save_write(tmp_path):
    model = _model()
    deepcomp.prune(model, sparsity=0.5, layers=["0"])
    options = {"method": "exact", "group_size": 32}
    report = deepcomp.sensitivity(model, _cosine_to(model), sparsities=None, bits=(2, 3, 5), progress=False,
                                  quantize_options=options)
    assert report.layers == ["0", "2", "2.out_proj", "3"]
    assert all(point.bytes > 0 for point in report)
    for layer in report.layers:
        sizes = [point.bytes for point in report[layer]]
        assert sizes == sorted(sizes), layer  # wider, more bytes
    widest = report.bits_for_budget(model, 10**12)
    assert widest.bits == dict.fromkeys(report.layers, 5)
    budget = report.bits_for_budget(model, widest.file_bytes * 0.7)
    assert budget.file_bytes <= widest.file_bytes * 0.7
    assert set(budget.bits.values()) != {5} and budget.metric < widest.metric
    assert report.bits_for_budget(model.state_dict(), widest.file_bytes * 0.7).bits == budget.bits

    quantized = copy.deepcopy(model)
    deepcomp.quantize(quantized, bits=budget.bits, **options)
    saved = deepcomp.save(quantized, tmp_path / "budget.dcz")
    assert saved.file_bytes == budget.file_bytes == os.path.getsize(tmp_path / "budget.dcz")


def test_the_sweep_clusters_as_quantize_options_say():
    model = _model()
    one = deepcomp.sensitivity(model, _cosine_to(model), sparsities=None, bits=(4,), layers=["0"], progress=False)
    grouped = deepcomp.sensitivity(model, _cosine_to(model), sparsities=None, bits=(4,), layers=["0"],
                                   progress=False, quantize_options={"group_size": 8})
    # 12 codebooks of 16 float32 centroids against one; the extra codebooks are in the bytes.
    assert grouped.points[0].bytes - one.points[0].bytes >= 11 * 16 * 4 - 64
    assert grouped.points[0].metric > one.points[0].metric


def test_bad_arguments_are_refused():
    model = _model()
    evaluate = _cosine_to(model)
    with pytest.raises(TypeError, match="quantize_options takes init, method, seed, weights, group_size; got bits"):
        deepcomp.sensitivity(model, evaluate, bits=(4,), quantize_options={"bits": 3}, progress=False)
    with pytest.raises(ValueError, match="unknown k-means method 'best'"):
        deepcomp.sensitivity(model, evaluate, bits=(4,), quantize_options={"method": "best"}, progress=False)
    with pytest.raises(TypeError, match="quantize_options must be a dict"):
        deepcomp.sensitivity(model, evaluate, bits=(4,), quantize_options="exact", progress=False)
    report = deepcomp.sensitivity(model, evaluate, sparsities=None, bits=(2, 4), layers=["3"], progress=False)
    with pytest.raises(TypeError, match="max_bytes must be a number"):
        report.bits_for_budget(model, "1kB")
    with pytest.raises(ValueError, match="max_bytes must be >= 1"):
        report.bits_for_budget(model, 0.5)
    with pytest.raises(ValueError, match="no measured widths fit 100 bytes; the smallest file they make is"):
        report.bits_for_budget(model, 100)
    with pytest.raises(ValueError, match="no weight of layer '3'"):
        report.bits_for_budget(nn.Sequential(nn.Linear(2, 2)), 10**6)
    with pytest.raises(TypeError, match="needs an nn.Module or a state dict"):
        report.bits_for_budget([1, 2], 10**6)
    pruned_only = deepcomp.sensitivity(model, evaluate, sparsities=(0.5,), layers=["3"], progress=False)
    with pytest.raises(ValueError, match="no bits sweep"):
        pruned_only.bits_for_budget(model, 10**6)
