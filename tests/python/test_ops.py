"""The ops against their pure-PyTorch reference: values, gradients (float64 gradcheck), opcheck."""
import pytest
import torch

import cpu_variants
import reference as ref
from deepcomp import ops


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
def test_apply_mask_matches_reference(device, dtype):
    weight = torch.randn(33, 47, device=device).to(dtype)
    mask = ref.random_mask(weight.shape, device=device)
    assert torch.equal(ops.apply_mask(weight, mask), ref.apply_mask(weight, mask))
    poisoned = weight.clone()
    assert ops.apply_mask_(poisoned, mask) is poisoned
    assert torch.equal(poisoned, ref.apply_mask(weight, mask))


_MASK_EVERY_SIZE = """
import torch
from deepcomp import ops
torch.manual_seed(0)
for n in (1, 7, 8, 15, 16, 17, 31, 100_003, 300_001):  # SIMD widths, tails, and ranges split over threads
    weight = torch.randn(n)
    weight[::5] = float("nan")
    weight[1::7] = float("-inf")
    weight[2::9] = -0.0
    mask = torch.rand(n) < 0.5
    want = torch.where(mask, weight, torch.zeros(())).view(torch.int32)  # pruned: +0 bits, NaN kept as is
    assert torch.equal(ops.apply_mask(weight, mask).view(torch.int32), want), n
    assert torch.equal(ops.apply_mask_(weight, mask).view(torch.int32), want), n
print(ops.compressed_linear_cpu_isa())
"""


@pytest.mark.parametrize("capability", cpu_variants.CAPABILITIES)
def test_apply_mask_bit_for_bit_in_every_simd_variant(capability):
    assert cpu_variants.run_under(capability, _MASK_EVERY_SIZE).strip() == cpu_variants.expected_variant(capability)


def test_apply_mask_in_place_on_a_transposed_weight(device):
    weight = torch.randn(30, 20, device=device).t()
    mask = ref.random_mask(weight.shape, device=device)
    expected = ref.apply_mask(weight, mask)
    ops.apply_mask_(weight, mask)
    assert torch.equal(weight, expected)


@pytest.mark.parametrize("input_shape", [(29,), (7, 29), (3, 5, 29)])
@pytest.mark.parametrize("bias", [True, False])
def test_masked_linear_forward_and_backward(device, input_shape, bias):
    x = torch.randn(input_shape, device=device, requires_grad=True)
    w = torch.randn(13, 29, device=device, requires_grad=True)
    b = torch.randn(13, device=device, requires_grad=True) if bias else None
    mask = ref.random_mask(w.shape, keep=0.3, device=device)
    out = ops.masked_linear(x, w, mask, b)
    expected = ref.masked_linear(x, w, mask, b)
    assert ref.relative_error(out, expected) < 1e-6
    upstream = torch.randn_like(out)
    inputs = [x, w] + ([b] if bias else [])
    grads = torch.autograd.grad(out, inputs, upstream)
    expected_grads = torch.autograd.grad(expected, inputs, upstream)
    for got, want in zip(grads, expected_grads):
        assert ref.relative_error(got, want) < 1e-6
    assert torch.all(grads[1][~mask] == 0)


def test_masked_linear_gradcheck_float64(device):
    x = torch.randn(4, 6, dtype=torch.float64, device=device, requires_grad=True)
    w = torch.randn(5, 6, dtype=torch.float64, device=device, requires_grad=True)
    b = torch.randn(5, dtype=torch.float64, device=device, requires_grad=True)
    mask = ref.random_mask(w.shape, device=device)
    assert torch.autograd.gradcheck(lambda x, w, b: ops.masked_linear(x, w, mask, b), (x, w, b))


@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 1, 1, 1), ((2, 1), (0, 2), (1, 2), 2)])
def test_masked_conv2d_forward_and_backward(device, stride, padding, dilation, groups):
    x = torch.randn(2, 4, 9, 11, device=device, requires_grad=True)
    w = torch.randn(6, 4 // groups, 3, 3, device=device, requires_grad=True)
    b = torch.randn(6, device=device, requires_grad=True)
    mask = ref.random_mask(w.shape, device=device)
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    out = ops.masked_conv2d(x, w, mask, b, pair(stride), pair(padding), pair(dilation), groups)
    expected = ref.masked_conv2d(x, w, mask, b, stride, padding, dilation, groups)
    assert ref.relative_error(out, expected) < 1e-6
    upstream = torch.randn_like(out)
    grads = torch.autograd.grad(out, (x, w, b), upstream)
    expected_grads = torch.autograd.grad(expected, (x, w, b), upstream)
    for got, want in zip(grads, expected_grads):
        assert ref.relative_error(got, want) < 1e-5
    assert torch.all(grads[1][~mask] == 0)


def test_masked_conv2d_gradcheck_float64(device):
    x = torch.randn(2, 2, 6, 5, dtype=torch.float64, device=device, requires_grad=True)
    w = torch.randn(3, 2, 3, 3, dtype=torch.float64, device=device, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, device=device, requires_grad=True)
    mask = ref.random_mask(w.shape, device=device)
    fn = lambda x, w, b: ops.masked_conv2d(x, w, mask, b, (1, 1), (1, 1), (1, 1), 1)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, w, b))


def test_gradients_only_where_asked(device):
    x = torch.randn(4, 6, device=device)  # a first layer: no gradient for the input
    w = torch.randn(3, 6, device=device, requires_grad=True)
    out = ops.masked_linear(x, w, ref.random_mask(w.shape, device=device))
    out.sum().backward()
    assert w.grad is not None and x.grad is None


def _opcheck_cases(device):
    w = torch.randn(5, 6, device=device, requires_grad=True)
    mask = ref.random_mask(w.shape, device=device)
    x = torch.randn(3, 6, device=device, requires_grad=True)
    cw = torch.randn(4, 2, 3, 3, device=device, requires_grad=True)
    cmask = ref.random_mask(cw.shape, device=device)
    cx = torch.randn(2, 2, 7, 7, device=device, requires_grad=True)
    plain = torch.randn(5, 6, device=device)
    return [
        (torch.ops.deepcomp.apply_mask.default, (plain, mask)),
        (torch.ops.deepcomp.apply_mask_.default, (plain.clone(), mask)),
        (torch.ops.deepcomp.masked_linear.default, (x, w, mask, torch.randn(5, device=device))),
        (torch.ops.deepcomp.masked_linear.default, (x, w, mask, None)),
        (torch.ops.deepcomp.masked_linear_backward.default,
         (torch.randn(3, 5, device=device), x.detach(), w.detach(), mask, [True, True, True])),
        (torch.ops.deepcomp.masked_conv2d.default, (cx, cw, cmask, None, [1, 1], [1, 1], [1, 1], 1)),
        (torch.ops.deepcomp.masked_conv2d_backward.default,
         (torch.randn(2, 4, 7, 7, device=device), cx.detach(), cw.detach(), cmask, [1, 1], [1, 1], [1, 1], 1,
          [True, True, False])),
        (torch.ops.deepcomp.magnitude_prune.default, (plain, mask, None, 0.5)),
        (torch.ops.deepcomp.magnitude_prune.default, (plain, mask, 0.7, None)),
    ]


def test_opcheck_every_op(device):
    for op, args in _opcheck_cases(device):
        torch.library.opcheck(op, args)


def test_op_errors_name_the_problem():
    w = torch.randn(3, 6)
    with pytest.raises(RuntimeError, match="mask shape"):
        ops.apply_mask(w, torch.ones(6, 3, dtype=torch.bool))
    with pytest.raises(RuntimeError, match="bool"):
        ops.masked_linear(torch.randn(2, 6), w, torch.ones(3, 6))
    with pytest.raises(RuntimeError, match="in_features = 6"):
        ops.masked_linear(torch.randn(2, 5), w, torch.ones(3, 6, dtype=torch.bool))
    with pytest.raises(ValueError, match="exactly one"):
        ops.magnitude_prune(w, torch.ones(3, 6, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\[0, 1\), got 1.5"):
        ops.magnitude_prune(w, torch.ones(3, 6, dtype=torch.bool), sparsity=1.5)


def test_ops_give_shapes_on_meta_tensors():
    w = torch.empty(3, 6, device="meta")
    out = ops.masked_linear(torch.empty(2, 6, device="meta"), w, torch.empty(3, 6, dtype=torch.bool, device="meta"))
    assert out.shape == (2, 3)


@pytest.mark.parametrize("pruned_value", [0.0, -0.0, float("nan"), float("inf"), 3.0])
def test_masked_ops_ignore_whatever_a_pruned_weight_holds(device, pruned_value):
    # Pruned entries that are ±0 let the CPU GEMM use the weight itself; anything else is masked.
    mask = ref.random_mask((7, 11), device=device)
    w = torch.randn(7, 11, device=device).masked_fill(~mask, pruned_value).requires_grad_()
    x = torch.randn(5, 11, device=device, requires_grad=True)
    out = ops.masked_linear(x, w, mask)
    clean = w.detach().masked_fill(~mask, 0.0)
    torch.testing.assert_close(out, ref.masked_linear(x, clean, mask))
    grad_x, grad_w = torch.autograd.grad(out.sum(), (x, w))
    torch.testing.assert_close(grad_x, torch.autograd.grad(ref.masked_linear(x, clean, mask).sum(), x)[0])
    assert torch.all(grad_w[~mask] == 0)


@pytest.mark.parametrize("sparsity", [0.3, 0.5, 0.9, 0.99])
def test_magnitude_prune_by_sparsity_drops_the_smallest_first_in_position_among_ties(device, sparsity):
    weight = torch.randint(-6, 7, (37, 41), device=device).float() / 4  # many equal magnitudes, and -0 / +0
    mask = ref.random_mask(weight.shape, keep=0.8, device=device)
    got = ops.magnitude_prune(weight, mask, sparsity=sparsity)
    # The reference: a stable sort of the survivors' magnitudes; the first ones are dropped.
    positions = mask.flatten().nonzero().squeeze(1)
    extra = int(sparsity * weight.numel()) - int((~mask).sum())
    want = mask.flatten().clone()
    if extra > 0:
        order = torch.argsort(weight.flatten()[positions].abs(), stable=True)
        want[positions[order[:extra]]] = False
    assert torch.equal(got.flatten(), want)
    assert int((~got).sum()) == max(int(sparsity * weight.numel()), int((~mask).sum()))
