"""Loud, never silent: layers a stage cannot change are named in a warning, a call that would change no
layer raises, exclude= leaves layers alone, and an optimizer that lost its Parameters to quantize warns."""
import warnings

import pytest
import torch
import torch.nn as nn

import deepcomp
from deepcomp.nn import MaskedLinear, SharedLinear


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.bilinear = nn.Bilinear(8, 8, 8)
        self.lstm = nn.LSTM(8, 8)
        self.attention = nn.MultiheadAttention(8, 2, kdim=4, vdim=4)  # separate q, k, v projections
        self.fc = nn.Linear(8, 4)


def test_prune_names_each_layer_it_skips_and_why():
    model = Mixed()
    with pytest.warns(UserWarning, match="deepcomp.prune skipped") as caught:
        report = deepcomp.prune(model, sparsity=0.5)
    text = str(caught[0].message)
    for name, kind in (("bilinear", "Bilinear"), ("lstm", "LSTM"), ("attention", "MultiheadAttention")):
        assert f"'{name}' ({kind})" in text
    assert "'attention' (MultiheadAttention): attention with kdim or vdim other than embed_dim" in text
    assert "'attention.out_proj' (NonDynamicallyQuantizableLinear): the out_proj of attention with kdim" in text
    assert [row.name for row in report] == ["fc"]
    assert {s.name for s in report.skipped} == {"bilinear", "lstm", "attention", "attention.out_proj"}
    assert isinstance(model.fc, MaskedLinear)


def test_exclude_silences_the_warning_by_name_or_predicate():
    model = Mixed()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = deepcomp.prune(model, sparsity=0.5,
                                exclude=lambda name, module: not isinstance(module, nn.Linear) or "." in name)
    assert [row.name for row in report] == ["fc"] and report.skipped == []
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    report = deepcomp.prune(model, sparsity=0.5, exclude=["2"])
    assert [row.name for row in report] == ["0"] and type(model[2]) is nn.Linear
    with pytest.raises(ValueError, match="no layer named '9'"):
        deepcomp.prune(model, sparsity=0.5, exclude="9")


def test_a_call_that_would_change_no_layer_raises():
    with pytest.raises(ValueError, match="deepcomp.prune: no layer to change; skipped 'lstm'"):
        deepcomp.prune(_only_lstm(), sparsity=0.5)
    with pytest.raises(ValueError, match="deepcomp.quantize: no layer to change"):
        deepcomp.quantize(nn.Sequential(nn.Linear(4, 4)), exclude=["0"])
    with pytest.raises(ValueError, match="deepcomp.sensitivity: no layer to change"):
        deepcomp.sensitivity(_only_lstm(), lambda m: 0.0, progress=False)


def _only_lstm() -> nn.Module:
    model = nn.Module()
    model.lstm = nn.LSTM(5, 3)
    return model


def test_prune_after_quantize_says_so():
    model = nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 2))
    deepcomp.quantize(model, layers=["0"])
    with pytest.warns(UserWarning, match="'0' \\(SharedLinear\\): already quantized.*prune before quantize"):
        report = deepcomp.prune(model, sparsity=0.5)
    assert [row.name for row in report] == ["2"]
    deepcomp.quantize(model, layers=["2"])
    with pytest.raises(ValueError, match="no layer to change.*already quantized"):
        deepcomp.prune(model, sparsity=0.5)


def test_quantize_warns_about_skipped_layers_too():
    model = Mixed()
    with pytest.warns(UserWarning, match="deepcomp.quantize skipped.*'lstm' \\(LSTM\\)"):
        report = deepcomp.quantize(model)
    assert [row.name for row in report] == ["fc"] and isinstance(model.fc, SharedLinear)


def test_an_optimizer_built_before_quantize_warns_at_its_first_step():
    model = nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 2))
    stale = torch.optim.SGD(model.parameters(), lr=0.1)
    deepcomp.quantize(model)
    loss = model(torch.randn(3, 6)).sum()
    loss.backward()
    with pytest.warns(UserWarning, match=r"SGD steps 2 Parameter\(s\) of layers deepcomp.quantize replaced \('0', '2'\)"):
        stale.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stale.step()  # once per optimizer
        torch.optim.SGD(model.parameters(), lr=0.1).step()  # one built afterwards holds the codebooks


def test_schedule_rejects_a_state_it_cannot_have_reached():
    schedule = deepcomp.PruningSchedule(nn.Sequential(nn.Linear(4, 4)), sparsity=0.5, steps=2)
    with pytest.raises(ValueError, match="rounds_done <= steps"):
        schedule.load_state_dict({"epoch": 3, "rounds_done": 5})
    with pytest.raises(ValueError, match="load_state_dict needs"):
        schedule.load_state_dict({"epoch": 3})
    schedule.load_state_dict({"epoch": 3, "rounds_done": 2})
    assert schedule.done and schedule.step() is None


def test_the_domain_constants_come_from_cpp():
    c = deepcomp.constants
    assert (c.MIN_BITS, c.MAX_BITS, c.DEFAULT_CONV_BITS, c.DEFAULT_LINEAR_BITS) == (1, 8, 8, 5)
    assert c.CODEBOOK_INITS == ("linear", "density", "random") and c.KMEANS_METHODS == ("lloyd", "exact")


def test_a_layer_without_weights_is_skipped_or_refused():
    model = nn.Sequential(nn.Linear(0, 4), nn.Linear(4, 2))
    with pytest.warns(UserWarning, match=r"'0' \(Linear\): it has no weights"):
        report = deepcomp.quantize(model)
    assert [row.name for row in report] == ["1"] and type(model[0]) is nn.Linear
    with pytest.raises(ValueError, match=r"layer '0' \(Linear\) has no weights"):
        deepcomp.prune(nn.Sequential(nn.Linear(0, 4), nn.Linear(4, 2)), sparsity=0.5, layers=["0"])


def test_a_seed_out_of_range_is_a_clear_error():
    with pytest.raises(ValueError, match=r"seed must be in 0..2\^63-1, got 1180591620717411303424"):
        deepcomp.quantize(nn.Sequential(nn.Linear(4, 4)), seed=2**70)
    with pytest.raises(TypeError, match="seed must be an int"):
        deepcomp.quantize(nn.Sequential(nn.Linear(4, 4)), seed=1.5)
