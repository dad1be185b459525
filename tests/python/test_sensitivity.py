"""deepcomp.sensitivity: the sweep's table, its faithfulness to prune/quantize, interrupts, and the
tolerated-drop helpers."""
import copy
import math

import pytest
import torch
import torch.nn as nn

import deepcomp
from deepcomp import SensitivityPoint, SensitivityReport
from deepcomp.nn import MaskedLinear

INPUT = torch.randn(32, 8, generator=torch.Generator().manual_seed(1))


def _model():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.BatchNorm1d(16), nn.Linear(16, 4))


def _evaluate_against(reference):
    """A metric: minus the mean squared distance from the reference model's outputs (0 is best)."""
    reference = copy.deepcopy(reference).eval()
    with torch.no_grad():
        target = reference(INPUT)

    def evaluate(model):
        model.eval()
        with torch.no_grad():
            return -float(((model(INPUT) - target) ** 2).mean())
    return evaluate


def _state(model):
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def _same_state(model, state):
    return model.state_dict().keys() == state.keys() and all(
        torch.equal(tensor, state[name]) for name, tensor in model.state_dict().items())


def test_prune_sweep_gives_a_layers_by_sparsities_table():
    model = _model()
    evaluate = _evaluate_against(model)
    calls = []
    report = deepcomp.sensitivity(model, lambda m: calls.append(m) or evaluate(m), sparsities=(0.25, 0.5, 0.75),
                                  progress=False)
    assert len(calls) == 1 + 2 * 3
    assert all(m is calls[0] and m is not model for m in calls)  # one copy, never the user's model
    assert report.baseline == 0.0 and not report.interrupted
    assert report.layers == ["0", "3"] and report.kinds() == ["prune"]
    assert [(p.layer, p.kind, p.value) for p in report.points] == [
        ("0", "prune", 0.25), ("0", "prune", 0.5), ("0", "prune", 0.75),
        ("3", "prune", 0.25), ("3", "prune", 0.5), ("3", "prune", 0.75)]
    curves = report.curves()
    assert list(curves) == ["0", "3"] and [v for v, _ in curves["3"]] == [0.25, 0.5, 0.75]
    assert report.curves("quantize") == {}
    lines = report.table().splitlines()
    assert len(lines) == 2 + 2  # header, rule, one row per layer
    assert lines[0].split() == ["layer", "25%", "50%", "75%"]
    assert lines[2].split()[0] == "0" and len(lines[2].split()) == 4
    assert "baseline" in str(report) and report.table() in str(report)
    assert [p.metric for p in report["3"]] == [m for _, m in curves["3"]]


def test_each_point_is_what_deepcomp_prune_would_do_to_that_layer_alone():
    model = _model()
    original = _state(model)
    evaluate = _evaluate_against(model)
    report = deepcomp.sensitivity(model, evaluate, sparsities=(0.3, 0.6), progress=False)
    assert _same_state(model, original) and isinstance(model[0], nn.Linear) and not isinstance(model[0], MaskedLinear)
    for point in report:
        alone = copy.deepcopy(model)
        deepcomp.prune(alone, sparsity={point.layer: point.value})
        assert point.metric == evaluate(alone)
        assert point.metric < report.baseline


def test_only_the_layer_under_test_differs_at_each_evaluation():
    model = _model()
    original = {name: module.weight.detach().clone() for name, module in model.named_modules()
                if isinstance(module, nn.Linear)}
    seen = []

    def evaluate(copy_):
        changed = {name: int((module.weight != original[name]).sum()) for name, module in copy_.named_modules()
                   if name in original}
        seen.append(changed)
        return 0.0

    deepcomp.sensitivity(model, evaluate, sparsities=(0.5,), progress=False)
    assert seen == [{"0": 0, "3": 0}, {"0": 64, "3": 0}, {"0": 0, "3": 32}]


def test_masked_layers_are_pruned_on_top_of_their_mask():
    model = _model()
    deepcomp.prune(model, sparsity={"0": 0.5})
    zeros = []
    deepcomp.sensitivity(model, lambda m: zeros.append(int((m[0].weight == 0).sum())) or 0.0,
                         sparsities=(0.25, 0.75), layers=["0"], progress=False)
    assert zeros == [64, 64, 96]  # 0.25 < the mask's 0.5: nothing more to drop


def test_bits_sweep_matches_deepcomp_quantize():
    model = _model()
    deepcomp.prune(model, sparsity={"3": 0.5})
    original = _state(model)
    evaluate = _evaluate_against(model)
    distinct = []

    def counting(m):
        distinct.append(m[3].weight.detach().unique().numel())
        return evaluate(m)

    report = deepcomp.sensitivity(model, counting, sparsities=None, bits=(1, 2, 3), progress=False)
    assert _same_state(model, original)
    assert report.kinds() == ["quantize"] and report.layers == ["0", "3"]
    assert [p.value for p in report["3"]] == [1, 2, 3]
    assert distinct[4:] == [1 + 2, 1 + 4, 1 + 8]  # the centroids, and the pruned zeros
    for point in report:
        alone = copy.deepcopy(model)
        deepcomp.quantize(alone, bits=int(point.value), layers=[point.layer])
        assert point.metric == pytest.approx(evaluate(alone), rel=1e-6, abs=1e-9)
    assert report.table("quantize").splitlines()[0].split() == ["layer", "1", "bits", "2", "bits", "3", "bits"]


def test_shared_layers_take_part_in_the_bits_sweep_only():
    model = _model()
    deepcomp.quantize(model, bits=4, layers=["3"])
    codebook = model[3].codebook
    original = _state(model)
    evaluate = _evaluate_against(model)
    report = deepcomp.sensitivity(model, evaluate, sparsities=(0.5,), bits=(2, 8), progress=False)
    assert [(p.layer, p.kind) for p in report] == [("0", "prune"), ("0", "quantize"), ("0", "quantize"),
                                                  ("3", "quantize"), ("3", "quantize")]
    assert report["3"][1].metric == report.baseline  # re-clustering 16 values into 256 centroids
    assert report["3"][0].metric < report.baseline
    assert _same_state(model, original) and model[3].codebook is codebook
    with pytest.raises(TypeError, match="sparsities=None"):
        deepcomp.sensitivity(model, evaluate, layers=["3"], progress=False)
    assert deepcomp.sensitivity(model, evaluate, sparsities=None, bits=(2,), layers=["3"],
                                progress=False).layers == ["3"]


def test_a_keyboard_interrupt_returns_the_points_measured_so_far():
    model = _model()
    original = _state(model)
    n = 4  # the 4th call of evaluate raises: the baseline (call 1) and 2 points (calls 2 and 3) are measured
    calls = []

    def evaluate(m):
        calls.append(None)
        if len(calls) == n:
            raise KeyboardInterrupt
        return float(len(calls))

    with pytest.warns(RuntimeWarning, match="interrupted.* 2 of 6 points"):
        report = deepcomp.sensitivity(model, evaluate, sparsities=(0.1, 0.2, 0.3), progress=False)
    assert report.interrupted and len(calls) == n
    assert report.baseline == 1.0
    assert [(p.layer, p.value, p.metric) for p in report] == [("0", 0.1, 2.0), ("0", 0.2, 3.0)]
    assert report.table().splitlines()[2].split() == ["0", "2", "3"]
    assert "interrupted" in str(report)
    assert _same_state(model, original)


def test_a_keyboard_interrupt_during_the_baseline_propagates():
    def evaluate(m):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        deepcomp.sensitivity(_model(), evaluate, progress=False)


def test_other_errors_of_evaluate_propagate_and_leave_the_model_alone():
    model = _model()
    original = _state(model)
    calls = []

    def evaluate(m):
        calls.append(None)
        if len(calls) == 3:
            raise ValueError("boom")
        return 0.0

    with pytest.raises(ValueError, match="boom"):
        deepcomp.sensitivity(model, evaluate, progress=False)
    assert _same_state(model, original)


def test_progress_bar_is_shown_on_stderr(capsys):
    deepcomp.sensitivity(_model(), lambda m: 0.0, sparsities=(0.5,))
    assert "deepcomp.sensitivity" in capsys.readouterr().err
    deepcomp.sensitivity(_model(), lambda m: 0.0, sparsities=(0.5,), progress=False)
    assert capsys.readouterr().err == ""


def test_evaluate_may_return_a_one_element_tensor():
    report = deepcomp.sensitivity(_model(), lambda m: torch.tensor(0.5), sparsities=(0.5,), progress=False)
    assert report.baseline == 0.5 and isinstance(report.points[0].metric, float)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(sparsities=(0.5, 1.0)), ValueError, r"\[0, 1\), got 1.0"),
    (dict(sparsities=(-0.1,)), ValueError, r"\[0, 1\)"),
    (dict(sparsities=("a",)), TypeError, "numbers"),
    (dict(sparsities=0.5), TypeError, "sequence"),
    (dict(sparsities=()), ValueError, "empty"),
    (dict(bits=(0,)), ValueError, "1..8"),
    (dict(bits=(9,)), ValueError, "1..8"),
    (dict(bits=(2.5,)), TypeError, "int"),
    (dict(sparsities=None), ValueError, "nothing to measure"),
    (dict(layers=["O"]), ValueError, r"no layer named 'O'.*\['0', '3'\]"),
    (dict(layers=["2"]), TypeError, "BatchNorm1d"),
])
def test_bad_arguments_raise_before_evaluate_is_called(kwargs, error, match):
    calls = []
    with pytest.raises(error, match=match):
        deepcomp.sensitivity(_model(), lambda m: calls.append(m) or 0.0, progress=False, **kwargs)
    assert calls == []


def test_evaluate_must_be_callable_and_return_a_real_number():
    with pytest.raises(TypeError, match="callable"):
        deepcomp.sensitivity(_model(), 0.5)
    with pytest.raises(TypeError, match="evaluate must return a real number.*str 'good'"):
        deepcomp.sensitivity(_model(), lambda m: "good", progress=False)
    with pytest.raises(TypeError, match="evaluate must return a real number"):
        deepcomp.sensitivity(_model(), lambda m: torch.ones(2), progress=False)


def test_nan_weights_are_named():
    model = _model()
    with torch.no_grad():
        model[3].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="layer '3'.*NaN"):
        deepcomp.sensitivity(model, lambda m: 0.0, progress=False)


def _synthetic_report():
    # accuracy-like: higher is better; baseline 0.9
    metrics = {"0": [0.9, 0.89, 0.87, 0.7], "3": [0.88, 0.8, 0.6, 0.5]}
    points = [SensitivityPoint(layer, "prune", s, m) for layer, curve in metrics.items()
              for s, m in zip((0.2, 0.4, 0.6, 0.8), curve)]
    points += [SensitivityPoint("0", "quantize", b, m) for b, m in zip((2, 4, 8), (0.5, 0.895, 0.9))]
    points += [SensitivityPoint("3", "quantize", b, m) for b, m in zip((2, 4, 8), (0.5, 0.6, 0.7))]
    return SensitivityReport(0.9, points)


def test_tolerated_picks_the_largest_sparsity_and_the_smallest_bits_within_the_drop():
    report = _synthetic_report()
    assert report.tolerated(0.035) == {"0": 0.6, "3": 0.2}
    assert report.tolerated(0.0) == {"0": 0.2, "3": 0.0}
    assert report.tolerated(0.01, "quantize") == {"0": 4, "3": 8}
    loss = SensitivityReport(1.0, [SensitivityPoint("0", "prune", s, m) for s, m in ((0.5, 1.05), (0.9, 1.5))])
    assert loss.tolerated(0.1, higher_is_better=False) == {"0": 0.5}
    assert loss.tolerated(0.1) == {"0": 0.9}
    with pytest.raises(ValueError, match="max_drop"):
        report.tolerated(-1)
    with pytest.raises(ValueError, match="kind"):
        report.tolerated(0.1, kind="bits")


def test_sensitivities_make_deepcomp_prune_reach_the_tolerated_sparsities():
    model = nn.Sequential(nn.Linear(40, 50), nn.ReLU(), nn.Linear(50, 30))
    deepcomp.prune(model, sparsity={"2": 0.3})  # one layer already masked: its survivors set the std
    report = SensitivityReport(1.0, [SensitivityPoint(layer, "prune", s, 1.0 - s / 10)
                                     for layer in ("0", "2") for s in (0.25, 0.5, 0.75)])
    tolerated = report.tolerated(0.05)
    assert tolerated == {"0": 0.5, "2": 0.5}
    values = report.sensitivities(model, 0.05)
    assert set(values) == {"0", "2"} and all(v > 0 for v in values.values())
    deepcomp.prune(model, sensitivity=values)
    for name, sparsity in tolerated.items():
        layer = model.get_submodule(name)
        assert abs((layer.mask.numel() - layer.kept()) - math.floor(sparsity * layer.mask.numel())) <= 1
    # a layer already pruned beyond its tolerated sparsity loses nothing more
    assert report.sensitivities(model, 0.0) == {"0": 0.0, "2": 0.0}
    with pytest.raises(ValueError, match="no layer named '0'"):
        report.sensitivities(nn.Sequential(), 0.05)


def test_to_dict_round_trips():
    report = _synthetic_report()
    data = report.to_dict()
    assert data["baseline"] == 0.9 and data["interrupted"] is False
    assert data["points"][0] == {"layer": "0", "kind": "prune", "value": 0.2, "metric": 0.9, "bytes": 0, "codebooks": 0}
    again = SensitivityReport(data["baseline"], [SensitivityPoint(**p) for p in data["points"]], data["interrupted"])
    assert again == report
    text = str(report)
    assert "baseline (nothing changed): 0.9" in text and "pruned alone" in text and "quantized alone" in text
