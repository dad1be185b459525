"""Pruned below 30 %, a shared linear layer is computed on the CPU from its kept positions only
(packed rows: a sparse forward, its transpose for the input gradient, a sampled product for the
codebook gradient): the same outputs and gradients as the dense path, on random data, for every
dtype and bits, input shape, and a stride-0 gradient."""
import pytest
import torch

import reference as ref
from deepcomp import ops

DTYPES = {torch.float64: 1e-12, torch.float32: 1e-5, torch.bfloat16: 2e-2}


def _layer(out_features, in_features, keep, dtype, bits=5):
    mask = ref.random_mask((out_features, in_features), keep=keep)
    indices = torch.randint(0, 2 ** bits, (out_features, in_features), dtype=torch.uint8)
    codebook = torch.randn(2 ** bits, dtype=dtype)
    return mask, indices, codebook


def _exact_grads(function, inputs, upstream):
    """The gradients of function at inputs, computed in float64 from the same values."""
    exact = [i.detach().double().requires_grad_() for i in inputs]
    return torch.autograd.grad(function(*exact), exact, upstream.double())


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("keep", [0.02, 0.1, 0.25])
@pytest.mark.parametrize("bits", [3, 5, 8])
def test_shared_linear_codebook_gradient(dtype, keep, bits):
    torch.manual_seed(1)
    mask, indices, codebook = _layer(300, 257, keep, dtype, bits)
    codebook.requires_grad_()
    x = torch.randn(9, 257, dtype=dtype, requires_grad=True)
    bias = torch.randn(300, dtype=dtype, requires_grad=True)
    out = ops.shared_linear(x, indices, mask, codebook, bias)
    exact = ref.shared_linear(x.double(), indices, mask, codebook.double(), bias.double())
    assert ref.relative_error(out, exact) < DTYPES[dtype]
    upstream = torch.ones(1, dtype=dtype).expand_as(out)  # loss.sum(): a stride-0 gradient
    want = _exact_grads(lambda x, c, b: ref.shared_linear(x, indices, mask, c, b), (x, codebook, bias), upstream)
    for g, w in zip(torch.autograd.grad(out, (x, codebook, bias), upstream), want):
        assert ref.relative_error(g, w) < DTYPES[dtype]


@pytest.mark.parametrize("input_shape", [(37,), (3, 4, 37), (70, 37)])
def test_shared_linear_input_shapes(input_shape):
    torch.manual_seed(3)
    mask, indices, codebook = _layer(23, 37, 0.1, torch.float64)
    codebook.requires_grad_()
    x = torch.randn(input_shape, dtype=torch.float64, requires_grad=True)
    out = ops.shared_linear(x, indices, mask, codebook, None)
    assert out.shape == (*input_shape[:-1], 23)
    upstream = torch.randn_like(out)
    want = _exact_grads(lambda x, c: ref.shared_linear(x, indices, mask, c, None), (x, codebook), upstream)
    for g, w in zip(torch.autograd.grad(out, (x, codebook), upstream), want):
        assert ref.relative_error(g, w) < 1e-12


def test_changed_indices_or_mask_are_packed_again():
    torch.manual_seed(4)
    mask, indices, codebook = _layer(20, 50, 0.1, torch.float64)
    x = torch.randn(4, 50, dtype=torch.float64)
    ops.shared_linear(x, indices, mask, codebook, None)  # packed, remembered
    indices.random_(0, 32)  # in place: the versions change
    mask.copy_(ref.random_mask(mask.shape, keep=0.2))
    assert ref.relative_error(ops.shared_linear(x, indices, mask, codebook, None),
                              ref.shared_linear(x, indices, mask, codebook, None)) < 1e-12


def test_an_index_past_the_codebook_is_an_error_on_the_sampled_path():
    mask, indices, codebook = _layer(8, 64, 0.1, torch.float32)
    mask[0, 0] = True
    indices[0, 0] = 40
    grad = torch.randn(2, 8)
    codebook_grad = torch.ops.deepcomp.shared_linear_backward
    with pytest.raises(RuntimeError, match="codebook's 32 entries"):
        codebook_grad(grad, torch.randn(2, 64), indices, mask, codebook, [False, True, False])
    with pytest.raises(RuntimeError, match="codebook's 32 entries"):
        ops.shared_linear(torch.randn(2, 64), indices, mask, codebook, None)


def test_a_layer_either_side_of_the_threshold_gets_the_same_codebook_gradient():
    torch.manual_seed(2)
    x = torch.randn(16, 40, dtype=torch.float64)
    upstream = torch.randn(16, 20, dtype=torch.float64)
    for keep in (0.25, 0.35):  # either side of the 30 % switch
        mask, indices, codebook = _layer(20, 40, keep, torch.float64)
        (got,) = torch.autograd.grad(ops.shared_linear(x, indices, mask, codebook.requires_grad_(), None), codebook,
                                     upstream)
        want = torch.zeros(32, dtype=torch.float64).index_add_(0, indices[mask].long(), (upstream.t() @ x)[mask])
        assert ref.relative_error(got, want) < 1e-12
