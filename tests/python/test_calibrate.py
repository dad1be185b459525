"""Compression without retraining: deepcomp.calibrate's statistics, activation-weighted pruning and
importance-weighted k-means, against hand computations on random data."""
import copy

import pytest
import torch
import torch.nn as nn

import deepcomp


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 6)
        self.conv = nn.Conv1d(6, 8, 3, padding=1, groups=2)
        self.fc = nn.Linear(8, 4)

    def forward(self, tokens):
        x = self.conv(self.embed(tokens).transpose(1, 2))
        return self.fc(torch.relu(x).mean(2))


def _batches(count=3):
    generator = torch.Generator().manual_seed(1)
    return [torch.randint(0, 20, (5, 7), generator=generator) for _ in range(count)]


def test_calibrate_gathers_the_second_moment_of_each_input_feature():
    model = Net().train()
    seen = {"embed": [], "conv": [], "fc": []}
    hooks = [getattr(model, name).register_forward_pre_hook(lambda m, a, name=name: seen[name].append(a[0]))
             for name in seen]
    calibration = deepcomp.calibrate(model, _batches())
    for hook in hooks:
        hook.remove()
    assert set(calibration) == {"embed", "conv", "fc"} and model.training
    tokens = torch.cat([t.reshape(-1) for t in seen["embed"]])
    torch.testing.assert_close(calibration["embed"].mean_square(),
                               torch.bincount(tokens, minlength=20).double() / tokens.numel())
    conv = torch.cat([x.double().transpose(0, 1).reshape(6, -1) for x in seen["conv"]], 1)
    torch.testing.assert_close(calibration["conv"].mean_square(), conv.square().mean(1))
    assert calibration["conv"].samples == conv.shape[1]
    fc = torch.cat([x.double() for x in seen["fc"]])
    torch.testing.assert_close(calibration["fc"].mean_square(), fc.square().mean(0))
    assert not any(module._forward_pre_hooks for module in model.modules())


def test_calibrate_takes_tuples_dicts_a_forward_and_layer_choices():
    model = nn.Sequential(nn.Linear(3, 2))
    x = torch.randn(4, 3)
    by_tuple = deepcomp.calibrate(model, [(x,)])
    by_dict = deepcomp.calibrate(model, [{"input": x}])
    by_forward = deepcomp.calibrate(model, ["anything"], forward=lambda m, batch: m(x))
    for calibration in (by_dict, by_forward):
        torch.testing.assert_close(calibration["0"].mean_square(), by_tuple["0"].mean_square())
    assert deepcomp.calibrate(Net(), _batches(1), exclude=["conv", "fc"]).keys() == {"embed"}
    with pytest.raises(ValueError, match="5 inputs|no layer named"):
        deepcomp.calibrate(nn.Sequential(nn.Linear(5, 2)), [torch.randn(2, 3)[:, :3].expand(2, 3)])


def test_activation_pruning_keeps_the_largest_weight_times_input_rms():
    model = Net()
    calibration = deepcomp.calibrate(model, [tokens % 10 for tokens in _batches()])  # rows 10..19 never looked up
    dense = copy.deepcopy(model)
    report = deepcomp.prune(model, sparsity=0.5, criterion="activation", calibration=calibration)
    assert report.score == "activation"
    # fc by hand: score |w_ij| · rms_j, the lower half dropped
    score = dense.fc.weight.abs() * calibration["fc"].mean_square().float().sqrt()
    threshold = score.flatten().sort().values[score.numel() // 2 - 1]
    assert torch.equal(model.fc.mask, score > threshold)
    # an embedding row never looked up is pruned entirely
    never = calibration["embed"].mean_square() == 0
    assert never[10:].all() and not model.embed.mask[never].any()


def test_activation_pruning_loses_less_without_retraining_when_inputs_differ_in_scale():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(32, 16))
    scales = torch.logspace(-2, 1, 32)
    batches = [torch.randn(64, 32) * scales for _ in range(4)]
    reference = [model(x) for x in batches]
    calibration = deepcomp.calibrate(model, batches)

    def error(pruned):
        with torch.no_grad():
            return sum(float((pruned(x) - r).square().mean()) for x, r in zip(batches, reference))

    magnitude, activation = copy.deepcopy(model), copy.deepcopy(model)
    deepcomp.prune(magnitude, sparsity=0.5)
    deepcomp.prune(activation, sparsity=0.5, criterion="activation", calibration=calibration)
    assert error(activation) < 0.5 * error(magnitude)


def test_pruning_by_activation_needs_statistics_of_every_pruned_layer():
    model = Net()
    with pytest.raises(ValueError, match="give the calibration statistics"):
        deepcomp.prune(model, sparsity=0.5, criterion="activation")
    with pytest.raises(ValueError, match="'magnitude' or 'activation'"):
        deepcomp.prune(model, sparsity=0.5, criterion="wanda", calibration={})
    partial = deepcomp.calibrate(model, _batches(1), layers=["fc"])
    with pytest.raises(ValueError, match="layer 'embed' has no calibration statistics"):
        deepcomp.prune(model, sparsity=0.5, criterion="activation", calibration=partial)
    assert type(model.embed) is nn.Embedding  # nothing changed


def test_quantize_weighs_k_means_by_the_calibration_or_given_importance():
    model = Net()
    calibration = deepcomp.calibrate(model, _batches())
    fc_weight = model.fc.weight.detach().clone()
    by_calibration = copy.deepcopy(model)
    deepcomp.quantize(by_calibration, bits=3, weights=calibration)
    moments = calibration["fc"].mean_square().float().view(1, 8)
    codebook, indices = deepcomp.ops.kmeans_quantize(fc_weight, None, 3, importance=moments)
    assert torch.equal(by_calibration.fc.codebook, codebook) and torch.equal(by_calibration.fc.indices, indices)

    fisher = {"fc": torch.rand(4, 8)}  # any importance broadcastable to the weight
    by_dict = copy.deepcopy(model)
    deepcomp.quantize(by_dict, bits=3, weights=fisher)
    codebook, _ = deepcomp.ops.kmeans_quantize(fc_weight, None, 3, importance=fisher["fc"])
    assert torch.equal(by_dict.fc.codebook, codebook)
    plain = copy.deepcopy(model)
    deepcomp.quantize(plain, bits=3)
    assert torch.equal(by_dict.conv.codebook, plain.conv.codebook)  # layers it does not name: unweighted

    with pytest.raises(ValueError, match="no layer named 'head'"):
        deepcomp.quantize(copy.deepcopy(model), weights={"head": torch.ones(1)})
    with pytest.raises(TypeError, match="weights"):
        deepcomp.quantize(copy.deepcopy(model), weights=[torch.ones(1)])


def test_weighted_exact_k_means_lowers_the_weighted_error_it_minimises():
    torch.manual_seed(6)
    weight = torch.randn(64, 64)
    importance = torch.logspace(-3, 2, 64).view(1, 64)
    plain = deepcomp.ops.kmeans_quantize(weight, None, 3, method="exact")
    weighted = deepcomp.ops.kmeans_quantize(weight, None, 3, method="exact", importance=importance)

    def weighted_error(codebook, indices):
        return float((importance * (weight - codebook[indices.long()]).square()).sum())

    assert weighted_error(*weighted) < weighted_error(*plain)


def test_statistics_pickle_so_that_ranks_can_gather_and_merge_them():
    import pickle

    calibration = deepcomp.calibrate(Net(), _batches())
    copied = pickle.loads(pickle.dumps(calibration))
    for name, moments in calibration.items():
        assert torch.equal(copied[name].mean_square(), moments.mean_square())
        assert copied[name].samples == moments.samples
    merged = pickle.loads(pickle.dumps(deepcomp.InputMoments()))  # nothing counted yet
    merged.merge(calibration["fc"])
    merged.merge(copied["fc"])
    assert merged.samples == 2 * calibration["fc"].samples
    torch.testing.assert_close(merged.mean_square(), calibration["fc"].mean_square())


def test_an_embedding_bag_counts_the_rows_its_bags_look_up():
    model = nn.Sequential(nn.EmbeddingBag(10, 4, mode="sum"))
    tokens, offsets = torch.tensor([1, 1, 3, 9, 1]), torch.tensor([0, 2])
    calibration = deepcomp.calibrate(model, [(tokens, offsets)], forward=lambda m, batch: m[0](*batch))
    expected = torch.zeros(10, dtype=torch.float64)
    expected[[1, 3, 9]] = torch.tensor([3.0, 1.0, 1.0], dtype=torch.float64) / 5
    assert calibration["0"].samples == 5 and torch.equal(calibration["0"].mean_square(), expected)
    pruned = deepcomp.prune(model, sparsity=0.5, criterion="activation", calibration=calibration)
    assert pruned.layers[0].kind == "EmbeddingBag" and model[0].mask[[1, 3, 9]].all()  # never looked up: score 0
