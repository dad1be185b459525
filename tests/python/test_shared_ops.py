"""The trained-quantization ops against plain PyTorch: decode, per-cluster gradients, shared layers."""
import pytest
import torch

import reference as ref
from deepcomp import ops


def _shared_weight(shape, bits=3, device="cpu", dtype=torch.float32, keep=0.6):
    k = 2 ** bits
    indices = torch.randint(0, k, shape, device=device, dtype=torch.uint8)
    mask = ref.random_mask(shape, keep=keep, device=device)
    codebook = torch.randn(k, device=device, dtype=dtype)
    return indices, mask, codebook


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
def test_codebook_decode_matches_indexing(device, dtype):
    indices, mask, codebook = _shared_weight((37, 53), bits=5, device=device, dtype=dtype)
    weight = ops.codebook_decode(indices, mask, codebook)
    assert weight.dtype == dtype and weight.shape == indices.shape
    assert torch.equal(weight, ref.codebook_decode(indices, mask, codebook))
    assert torch.all(weight[~mask] == 0)


def test_codebook_gradient_is_the_per_cluster_sum_float64(device):
    indices, mask, codebook = _shared_weight((61, 47), bits=4, device=device, dtype=torch.float64)
    codebook.requires_grad_()
    upstream = torch.randn(61, 47, device=device, dtype=torch.float64)
    got, = torch.autograd.grad(ops.codebook_decode(indices, mask, codebook), codebook, upstream)
    want, = torch.autograd.grad(ref.codebook_decode(indices, mask, codebook), codebook, upstream)
    assert ref.relative_error(got, want) < 1e-12
    direct = ops.codebook_grad(upstream, indices, mask, codebook.numel())
    assert ref.relative_error(direct, want) < 1e-12
    assert torch.autograd.gradcheck(lambda c: ops.codebook_decode(indices, mask, c), (codebook,))


def test_codebook_grad_on_a_large_layer_float32(device):
    # Many threads' partial sums: still the per-cluster sum (accumulated in double on the CPU).
    indices, mask, codebook = _shared_weight((1024, 1000), bits=8, device=device)
    grad = torch.randn(1024, 1000, device=device)
    want = torch.zeros(256, dtype=torch.float64, device=device).index_add_(
        0, indices[mask].long(), grad[mask].double())
    assert ref.relative_error(ops.codebook_grad(grad, indices, mask, 256), want) < 1e-6


@pytest.mark.parametrize("input_shape", [(29,), (7, 29), (3, 5, 29)])
@pytest.mark.parametrize("bias", [True, False])
def test_shared_linear_forward_and_backward(device, input_shape, bias):
    indices, mask, codebook = _shared_weight((13, 29), device=device)
    codebook.requires_grad_()
    x = torch.randn(input_shape, device=device, requires_grad=True)
    b = torch.randn(13, device=device, requires_grad=True) if bias else None
    out = ops.shared_linear(x, indices, mask, codebook, b)
    expected = ref.shared_linear(x, indices, mask, codebook, b)
    assert ref.relative_error(out, expected) < 1e-6
    upstream = torch.randn_like(out)
    inputs = [x, codebook] + ([b] if bias else [])
    for got, want in zip(torch.autograd.grad(out, inputs, upstream), torch.autograd.grad(expected, inputs, upstream)):
        assert ref.relative_error(got, want) < 1e-5


@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 1, 1, 1), ((2, 1), (0, 2), (1, 2), 2)])
def test_shared_conv2d_forward_and_backward(device, stride, padding, dilation, groups):
    indices, mask, codebook = _shared_weight((6, 4 // groups, 3, 3), bits=8, device=device)
    codebook.requires_grad_()
    x = torch.randn(2, 4, 9, 11, device=device, requires_grad=True)
    b = torch.randn(6, device=device, requires_grad=True)
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    out = ops.shared_conv2d(x, indices, mask, codebook, b, pair(stride), pair(padding), pair(dilation), groups)
    expected = ref.shared_conv2d(x, indices, mask, codebook, b, stride, padding, dilation, groups)
    assert ref.relative_error(out, expected) < 1e-6
    upstream = torch.randn_like(out)
    for got, want in zip(torch.autograd.grad(out, (x, codebook, b), upstream),
                         torch.autograd.grad(expected, (x, codebook, b), upstream)):
        assert ref.relative_error(got, want) < 1e-5


def test_shared_layers_gradcheck_float64(device):
    indices, mask, codebook = _shared_weight((5, 6), device=device, dtype=torch.float64)
    x = torch.randn(4, 6, dtype=torch.float64, device=device, requires_grad=True)
    b = torch.randn(5, dtype=torch.float64, device=device, requires_grad=True)
    codebook.requires_grad_()
    assert torch.autograd.gradcheck(lambda x, c, b: ops.shared_linear(x, indices, mask, c, b), (x, codebook, b))
    cindices, cmask, ccodebook = _shared_weight((3, 2, 3, 3), device=device, dtype=torch.float64)
    cx = torch.randn(2, 2, 6, 5, dtype=torch.float64, device=device, requires_grad=True)
    ccodebook.requires_grad_()
    fn = lambda x, c: ops.shared_conv2d(x, cindices, cmask, c, None, (1, 1), (1, 1), (1, 1), 1)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (cx, ccodebook))


def test_opcheck_every_shared_op(device):
    indices, mask, codebook = _shared_weight((5, 6), device=device)
    cindices, cmask, ccodebook = _shared_weight((4, 2, 3, 3), device=device)
    codebook.requires_grad_()
    ccodebook.requires_grad_()
    x = torch.randn(3, 6, device=device, requires_grad=True)
    cx = torch.randn(2, 2, 7, 7, device=device, requires_grad=True)
    weight = torch.randn(5, 6, device=device)
    cases = [
        (torch.ops.deepcomp.kmeans_quantize.default, (weight, mask, 3, "linear", "lloyd", 0)),
        (torch.ops.deepcomp.kmeans_quantize.default, (weight, None, 2, "random", "exact", 5)),
        (torch.ops.deepcomp.codebook_decode.default, (indices, mask, codebook)),
        (torch.ops.deepcomp.codebook_grad.default, (weight, indices, mask, codebook.numel())),
        (torch.ops.deepcomp.shared_linear.default, (x, indices, mask, codebook, torch.randn(5, device=device))),
        (torch.ops.deepcomp.shared_linear.default, (x, indices, mask, codebook, None)),
        (torch.ops.deepcomp.shared_linear_backward.default,
         (torch.randn(3, 5, device=device), x.detach(), indices, mask, codebook.detach(), [True, True, True])),
        (torch.ops.deepcomp.shared_conv2d.default, (cx, cindices, cmask, ccodebook, None, [1, 1], [1, 1], [1, 1], 1)),
        (torch.ops.deepcomp.shared_conv2d_backward.default,
         (torch.randn(2, 4, 7, 7, device=device), cx.detach(), cindices, cmask, ccodebook.detach(), [1, 1], [1, 1],
          [1, 1], 1, [True, True, False])),
    ]
    for op, args in cases:
        torch.library.opcheck(op, args)


def test_shared_op_errors_name_the_problem():
    indices, mask, codebook = _shared_weight((3, 6))
    with pytest.raises(RuntimeError, match="uint8"):
        ops.codebook_decode(indices.long(), mask, codebook)
    with pytest.raises(RuntimeError, match="mask shape"):
        ops.codebook_decode(indices, mask.t(), codebook)
    with pytest.raises(RuntimeError, match="codebook's 4 entries"):
        ops.codebook_decode(indices.clamp(max=7), mask, codebook[:4])
    with pytest.raises(RuntimeError, match="num_codes = 2"):
        ops.codebook_grad(torch.randn(3, 6), indices.clamp(min=3), mask, 2)
    with pytest.raises(RuntimeError, match="in_features = 6"):
        ops.shared_linear(torch.randn(2, 5), indices, mask, codebook)


@pytest.mark.parametrize("out_features,in_features,batch", [(200, 4096, 3), (250, 8192, 100)])
def test_shared_linear_of_a_layer_decoded_in_several_blocks(out_features, in_features, batch):
    # The CPU kernels decode ~2^18 weights (and at least a batch's worth of rows) at a time: these
    # layers take several blocks, the last one partial, spread over the threads.
    indices, mask, codebook = _shared_weight((out_features, in_features), bits=5, dtype=torch.float64)
    codebook.requires_grad_()
    x = torch.randn(batch, in_features, dtype=torch.float64, requires_grad=True)
    b = torch.randn(out_features, dtype=torch.float64, requires_grad=True)
    out = ops.shared_linear(x, indices, mask, codebook, b)
    expected = ref.shared_linear(x, indices, mask, codebook, b)
    assert ref.relative_error(out, expected) < 1e-12
    # A loss.sum() sends a stride-0 gradient: the kernels must not hand it to BLAS as it is.
    upstream = torch.ones(1, dtype=torch.float64).expand_as(out) if batch == 3 else torch.randn_like(out)
    for got, want in zip(torch.autograd.grad(out, (x, codebook, b), upstream),
                         torch.autograd.grad(expected, (x, codebook, b), upstream)):
        assert ref.relative_error(got, want) < 1e-12
