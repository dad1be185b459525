"""1-D k-means (deepcomp.ops.kmeans_quantize) against a textbook Lloyd and brute force."""
import pytest
import torch

import reference as ref
from deepcomp import ops


def _weights(n, seed=0):
    """Drawn like trained weights: a narrow bell with heavy tails."""
    generator = torch.Generator().manual_seed(seed)
    normal = torch.randn(n, generator=generator)
    chi_square = torch.randn(3, n, generator=generator).square().sum(0) / 3
    return 0.02 * normal / chi_square.sqrt()  # Student's t with 3 degrees of freedom, scaled


def _linear_init(values, k):
    return torch.linspace(float(values.min()), float(values.max()), k, dtype=torch.float64)


@pytest.mark.parametrize("n,bits", [(500, 2), (3000, 5), pytest.param(20000, 8, marks=pytest.mark.slow)])
def test_lloyd_is_never_worse_than_textbook_lloyd_from_the_same_start(n, bits):
    values = _weights(n, seed=n)
    codebook, indices = ops.kmeans_quantize(values, None, bits)
    ours = ref.squared_error(values, codebook, indices)
    centroids, assignment = ref.lloyd(values, _linear_init(values, 2 ** bits))
    theirs = ref.squared_error(values, centroids, assignment)
    assert ours <= theirs * (1 + 1e-6)


@pytest.mark.parametrize("init", ["linear", "density", "random"])
@pytest.mark.parametrize("method", ["lloyd", "exact"])
def test_every_weight_gets_its_nearest_centroid(init, method):
    values = _weights(4000, seed=1).reshape(40, 100)
    mask = torch.rand(40, 100) < 0.7
    codebook, indices = ops.kmeans_quantize(values, mask, 4, init=init, method=method)
    assert codebook.shape == (16,) and codebook.dtype == torch.float32 and indices.dtype == torch.uint8
    assert torch.all(codebook[1:] >= codebook[:-1])
    kept, index = values[mask].double(), indices[mask].long()
    distance = (kept[:, None] - codebook.double()[None, :]).abs()
    assert torch.all(distance.gather(1, index[:, None]).squeeze(1) <= distance.min(1).values + 1e-12)
    assert torch.all(indices[~mask] == 0)


@pytest.mark.parametrize("seed", range(6))
def test_exact_mode_matches_brute_force(seed):
    values = _weights(14, seed=seed).double()
    codebook, indices = ops.kmeans_quantize(values, None, 2, method="exact")
    optimum = ref.optimal_squared_error(values, 4)
    assert ref.squared_error(values, codebook, indices) == pytest.approx(optimum, rel=1e-9, abs=1e-15)


def test_exact_is_at_least_as_good_as_lloyd():
    values = _weights(50000, seed=3)
    for bits in (3, 5):
        lloyd = ref.squared_error(values, *ops.kmeans_quantize(values, None, bits))
        exact = ref.squared_error(values, *ops.kmeans_quantize(values, None, bits, method="exact"))
        assert exact <= lloyd * (1 + 1e-6)


def test_linear_init_keeps_the_extremes_and_random_init_depends_on_the_seed():
    values = _weights(10000, seed=4)
    codebook, _ = ops.kmeans_quantize(values, None, 5, init="linear")
    # Linear init leaves a centroid in each tail, so the largest weights are represented.
    assert float(codebook[-1]) > 0.5 * float(values.max()) and float(codebook[0]) < 0.5 * float(values.min())
    # Few weights per centroid, so Lloyd ends where it starts: near the drawn weights.
    few = values[:200]
    a, _ = ops.kmeans_quantize(few, None, 5, init="random", seed=1)
    b, _ = ops.kmeans_quantize(few, None, 5, init="random", seed=1)
    c, _ = ops.kmeans_quantize(few, None, 5, init="random", seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    # The same weights in another order give the same codebook.
    shuffled, _ = ops.kmeans_quantize(few[torch.randperm(200)], None, 5, init="random", seed=1)
    assert torch.equal(a, shuffled)


def test_fewer_distinct_values_than_centroids_are_exact():
    values = torch.tensor([0.5, -1.0, 0.5, 2.0, -1.0, 0.25]).repeat(10)
    codebook, indices = ops.kmeans_quantize(values, None, 3)
    assert ref.squared_error(values, codebook, indices) == 0
    assert torch.equal(codebook[:4], torch.tensor([-1.0, 0.25, 0.5, 2.0]))


def test_constant_and_fully_pruned_layers():
    codebook, indices = ops.kmeans_quantize(torch.full((7, 9), 0.3), None, 5)
    assert ref.squared_error(torch.full((63,), 0.3), codebook, indices.flatten()) == 0
    codebook, indices = ops.kmeans_quantize(torch.randn(4, 4), torch.zeros(4, 4, dtype=torch.bool), 2)
    assert codebook.shape == (4,) and torch.all(indices == 0)


def test_float64_weights_are_clustered_in_float64():
    values = _weights(3000, seed=5).double()
    codebook, indices = ops.kmeans_quantize(values, None, 4)
    assert codebook.dtype == torch.float64
    centroids, assignment = ref.lloyd(values, _linear_init(values, 16))
    assert ref.squared_error(values, codebook, indices) <= ref.squared_error(values, centroids, assignment) * (1 + 1e-12)


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(bits=0), ValueError, r"bits must be in 1\.\.8.*got 0"),
    (dict(bits=9), ValueError, r"bits must be in 1\.\.8.*got 9"),
    (dict(bits=3, init="kmeans++"), ValueError, "unknown codebook init 'kmeans\\+\\+'"),
    (dict(bits=3, method="fast"), ValueError, "unknown k-means method 'fast'"),
])
def test_bad_arguments_are_clear_errors(kwargs, error, message):
    bits = kwargs.pop("bits")
    with pytest.raises(error, match=message):
        ops.kmeans_quantize(torch.randn(10), None, bits, **kwargs)


def test_nan_or_inf_among_kept_weights_is_an_error_but_not_among_pruned_ones():
    weight = torch.randn(5, 5)
    weight[2, 3] = float("nan")
    with pytest.raises(ValueError, match="1 NaN/Inf"):
        ops.kmeans_quantize(weight, None, 2)
    mask = torch.ones(5, 5, dtype=torch.bool)
    mask[2, 3] = False
    codebook, indices = ops.kmeans_quantize(weight, mask, 2)
    assert torch.isfinite(codebook).all() and indices[2, 3] == 0


def test_tensors_on_the_device_come_back_on_it(device):
    weight = _weights(1000, seed=6).to(device)
    codebook, indices = ops.kmeans_quantize(weight, None, 3)
    assert codebook.device.type == device and indices.device.type == device
