import pytest
import torch.nn as nn

import deepcomp


def _model():
    return nn.Sequential(nn.Linear(20, 40), nn.ReLU(), nn.Linear(40, 10))


def test_rounds_fall_on_the_scheduled_epochs_and_reach_the_target():
    model = _model()
    schedule = deepcomp.PruningSchedule(model, sparsity=0.9, steps=3, every=2, start=1)
    reports = [schedule.step() for _ in range(10)]
    assert [epoch for epoch, report in enumerate(reports) if report is not None] == [1, 3, 5]
    assert schedule.done
    kept = [report.kept_fraction for report in reports if report is not None]
    # Each round keeps the same share of the survivors: 0.1 ** (1/3) ≈ 0.464 per round.
    assert kept == pytest.approx([0.1 ** (1 / 3), 0.1 ** (2 / 3), 0.1], abs=0.01)


def test_per_layer_targets_and_resume():
    model = _model()
    schedule = deepcomp.PruningSchedule(model, sparsity={"0": 0.8, "2": 0.5}, steps=2)
    schedule.step()
    state = schedule.state_dict()
    resumed = deepcomp.PruningSchedule(model, sparsity={"0": 0.8, "2": 0.5}, steps=2)
    resumed.load_state_dict(state)
    report = resumed.step()
    assert report["0"].kept == 160 and report["2"].kept == 200
    assert resumed.step() is None


def test_sensitivity_ramps_linearly():
    schedule = deepcomp.PruningSchedule(_model(), sensitivity=1.2, steps=4)
    assert [schedule.target(i) for i in range(1, 5)] == pytest.approx([0.3, 0.6, 0.9, 1.2])


@pytest.mark.parametrize("kwargs,message", [
    (dict(), "exactly one"),
    (dict(sparsity=0.5, steps=0), "steps must be an int >= 1"),
    (dict(sparsity=0.5, every=0), "every must be an int >= 1"),
    (dict(sparsity=0.5, start=-1), "start must be an int >= 0"),
])
def test_bad_schedules_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        deepcomp.PruningSchedule(_model(), **kwargs)
