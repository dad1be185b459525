"""Inference on compressed linear layers: deepcomp.ops.compressed_linear, deepcomp.nn.CompressedLinear
and deepcomp.load(path, model, compressed=True)."""
import pytest
import torch
import torch.nn as nn

import cpu_variants
import deepcomp
import reference as ref
from deepcomp import ops
from deepcomp.nn import CompressedLinear, SharedLinear
from test_io import Net, compressed_net


def _shared_weight(rows, columns, keep, device="cpu", dtype=torch.float32, k=32):
    indices = torch.randint(0, k, (rows, columns), dtype=torch.uint8, device=device)
    mask = ref.random_mask((rows, columns), keep=keep, device=device)
    return indices, mask, torch.randn(k, device=device, dtype=dtype)


@pytest.mark.parametrize("batch", [1, 2, 5, 16, 17, 64])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
def test_compressed_linear_equals_the_decoded_linear(device, batch, dtype):
    indices, mask, codebook = _shared_weight(130, 257, keep=0.09, device=device, dtype=dtype)
    bias = torch.randn(130, device=device, dtype=dtype)
    row_ptr, entries = ops.compressed_linear_pack(indices, mask)
    x = torch.randn(batch, 257, device=device, dtype=dtype)
    got = ops.compressed_linear(x, row_ptr, entries, codebook, bias)
    want = ref.shared_linear(x.double(), indices, mask, codebook.double(), bias.double())
    assert got.dtype == dtype and got.shape == (batch, 130)
    tolerance = {torch.float64: 1e-12, torch.float32: 1e-5}.get(dtype, 1e-2)
    assert ref.relative_error(got, want) < tolerance


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available() or not deepcomp.built_with_cuda(),
                    reason="needs a CUDA device and a CUDA build")
def test_compressed_linear_on_cuda_equals_the_cpu_kernel():
    indices, mask, codebook = _shared_weight(4096, 9216, keep=0.09)
    row_ptr, entries = ops.compressed_linear_pack(indices, mask)
    for batch in (1, 8, 64):
        x = torch.randn(batch, 9216)
        cpu = ops.compressed_linear(x, row_ptr, entries, codebook)
        gpu = ops.compressed_linear(x.cuda(), row_ptr.cuda(), entries.cuda(), codebook.cuda())
        assert ref.relative_error(gpu.cpu(), cpu) < 1e-5


@pytest.mark.parametrize("batch", [1, 8, 40])
def test_codebook_grad_from_the_kept_weights_equals_the_dense_reduction(device, batch):
    indices, mask, _ = _shared_weight(130, 257, keep=0.09, device=device)
    row_ptr, entries = ops.compressed_linear_pack(indices, mask)
    x, grad = torch.randn(batch, 257, device=device), torch.randn(batch, 130, device=device)
    got = ops.compressed_linear_codebook_grad(grad, x, row_ptr, entries, 32)
    want = ops.codebook_grad(grad.double().t() @ x.double(), indices, mask, 32)
    assert got.dtype == torch.float32 and got.shape == (32,)
    assert ref.relative_error(got, want) < 1e-5


def test_pack_lists_kept_weights_row_by_row(device):
    indices = torch.tensor([[3, 1, 4], [1, 5, 9]], dtype=torch.uint8, device=device)
    mask = torch.tensor([[True, False, True], [False, False, True]], device=device)
    row_ptr, entries = ops.compressed_linear_pack(indices, mask)
    assert row_ptr.tolist() == [0, 2, 3]
    assert entries.dtype == torch.int32 and entries.tolist() == [3, 2 << 8 | 4, 2 << 8 | 9]


def test_malformed_compressed_weights_are_clear_errors():
    indices, mask, codebook = _shared_weight(4, 8, keep=0.6, k=4)
    row_ptr, entries = ops.compressed_linear_pack(indices, mask)
    x = torch.randn(2, 8)
    with pytest.raises(RuntimeError, match="malformed compressed weight"):
        ops.compressed_linear(x, row_ptr, torch.full_like(entries, 8 << 8), codebook)
    with pytest.raises(RuntimeError, match="malformed compressed weight"):
        ops.compressed_linear(x, row_ptr.flip(0), entries, codebook)
    with pytest.raises(RuntimeError, match="codebook dtype"):
        ops.compressed_linear(x, row_ptr, entries, codebook.double())
    with pytest.raises(RuntimeError, match="row_ptr must be"):
        ops.compressed_linear(x, row_ptr.int(), entries, codebook)
    with pytest.raises(RuntimeError, match="in_features must be < 2\\^23"):
        ops.compressed_linear_pack(torch.zeros(1, 2 ** 23, dtype=torch.uint8), torch.ones(1, 2 ** 23, dtype=torch.bool))


def test_module_from_shared_matches_it_and_moves_with_to():
    dense = nn.Linear(300, 40)
    masked = deepcomp.nn.MaskedLinear.from_dense(dense)
    masked.mask.copy_(ref.random_mask(masked.mask.shape, keep=0.1))
    shared = SharedLinear.from_dense(masked, bits=5)
    compressed = CompressedLinear.from_shared(shared)
    assert compressed.kept() == shared.kept() and compressed.bits == 5
    assert "kept=" in repr(compressed)
    x = torch.randn(7, 300)
    assert ref.relative_error(compressed(x), shared(x)) < 1e-5
    half = compressed.to(torch.bfloat16)
    assert half.codebook.dtype == torch.bfloat16 and half.entries.dtype == torch.int32
    assert ref.relative_error(half(x.bfloat16()), shared(x)) < 2e-2
    assert not any(True for _ in compressed.parameters())  # inference only
    with pytest.raises(TypeError, match="SharedLinear"):
        CompressedLinear.from_shared(dense)


def test_load_compressed_replaces_quantized_linear_layers(tmp_path):
    model = compressed_net()
    path = tmp_path / "net.dcz"
    deepcomp.save(model, path)
    for target in (Net(), compressed_net()):  # a plain model, and one with masked and shared layers
        deepcomp.load(path, target, compressed=True)
        assert type(target.classifier[1]) is CompressedLinear  # quantized in the file
        assert type(target.classifier[3]) is not CompressedLinear  # pruned, not quantized
        assert type(target.classifier[5]) is nn.Linear  # plain in the file and the model
        model.eval(), target.eval()
        x = torch.randn(3, 1, 8, 8)
        assert ref.relative_error(target(x), model(x)) < 1e-5


def test_load_compressed_keeps_the_layers_device_and_dtype(tmp_path):
    model = nn.Sequential(nn.Linear(50, 20))
    deepcomp.prune(model, sparsity=0.8)
    deepcomp.quantize(model)
    path = tmp_path / "one.dcz"
    deepcomp.save(model, path)
    target = nn.Sequential(nn.Linear(50, 20)).double()
    deepcomp.load(path, target, compressed=True)
    assert target[0].codebook.dtype == torch.float64 and target[0].bias.dtype == torch.float64
    x = torch.randn(4, 50, dtype=torch.float64)
    assert ref.relative_error(target(x), model(x.float())) < 1e-5


def test_load_compressed_errors(tmp_path):
    model = nn.Sequential(nn.Linear(10, 4))
    deepcomp.prune(model, sparsity=0.5)
    deepcomp.quantize(model)
    deepcomp.save(model[0], tmp_path / "layer.dcz")
    with pytest.raises(TypeError, match="cannot be replaced in place"):
        deepcomp.load(tmp_path / "layer.dcz", nn.Linear(10, 4), compressed=True)
    with pytest.raises(ValueError, match="needs a model"):
        deepcomp.load(tmp_path / "layer.dcz", compressed=True)
    deepcomp.save(model, tmp_path / "model.dcz")
    with pytest.raises(ValueError, match=r"0.weight .* shape \(4, 10\).* \(5, 10\)"):
        deepcomp.load(tmp_path / "model.dcz", nn.Sequential(nn.Linear(10, 5)), compressed=True)


def test_opcheck_and_compile(device):
    indices, mask, codebook = _shared_weight(6, 9, keep=0.5, device=device, k=8)
    row_ptr, entries = ops.compressed_linear_pack(indices, mask)
    x, bias = torch.randn(3, 9, device=device), torch.randn(6, device=device)
    torch.library.opcheck(torch.ops.deepcomp.compressed_linear_pack.default, (indices, mask),
                          test_utils=("test_schema", "test_faketensor"))
    torch.library.opcheck(torch.ops.deepcomp.compressed_linear.default, (x, row_ptr, entries, codebook, bias))
    layer = CompressedLinear(9, 6, row_ptr, entries, codebook, bias)
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x), layer(x))


_EVERY_VARIANT = """
import sys, torch
import reference as ref
from deepcomp import ops
torch.manual_seed(0)
worst = 0.0
for rows, columns, keep, k in [(64, 300, 0.2, 32), (33, 1000, 0.05, 2), (17, 70, 0.9, 33), (9, 5000, 0.01, 256),
                               (5, 40, 0.0, 16)]:
    indices = torch.randint(0, k, (rows, columns), dtype=torch.uint8)
    mask = ref.random_mask((rows, columns), keep=keep)
    codebook, bias = torch.randn(k), torch.randn(rows)
    row_ptr, entries = ops.compressed_linear_pack(indices, mask)
    for batch in (1, 3, 8, 19):
        for dtype in (torch.float32, torch.bfloat16):
            x = torch.randn(batch, columns)
            got = ops.compressed_linear(x.to(dtype), row_ptr, entries, codebook.to(dtype), bias.to(dtype))
            want = ref.shared_linear(x.to(dtype).double(), indices, mask, codebook.to(dtype).double(),
                                     bias.to(dtype).double())
            scale = 1e-2 if dtype == torch.bfloat16 else 1e-5
            worst = max(worst, ref.relative_error(got, want) / scale)
print(ops.compressed_linear_cpu_isa(), worst)
"""


@pytest.mark.parametrize("capability", cpu_variants.CAPABILITIES)
def test_every_simd_variant_of_the_cpu_kernel(capability):
    variant, worst = cpu_variants.run_under(capability, _EVERY_VARIANT).split()
    assert variant == cpu_variants.expected_variant(capability)
    assert float(worst) < 1, f"{variant}: relative error {float(worst)} x the dtype's tolerance"


def test_entries_changed_in_place_are_checked_again():
    indices, mask, codebook = _shared_weight(6, 40, keep=0.5, k=8)
    row_ptr, entries = ops.compressed_linear_pack(indices, mask)
    x = torch.randn(1, 40)
    ops.compressed_linear(x, row_ptr, entries, codebook)  # checked once, remembered
    entries[3] = 41 << 8  # a column past in_features, written in place: the version changes
    with pytest.raises(RuntimeError, match="malformed compressed weight"):
        ops.compressed_linear(x, row_ptr, entries, codebook)
    entries[3] = 39 << 8 | 9  # a valid column, an index past the 8 centroids
    with pytest.raises(RuntimeError, match="malformed compressed weight"):
        ops.compressed_linear(x, row_ptr, entries, codebook)
    with pytest.raises(RuntimeError, match="malformed compressed weight"):
        ops.compressed_linear(torch.randn(1, 39), row_ptr, entries, codebook[:4])


def test_a_layer_with_no_inputs_and_a_kept_entry_is_malformed():
    row_ptr, entries = torch.tensor([0, 1]), torch.tensor([0], dtype=torch.int32)  # column 0, index 0
    with pytest.raises(RuntimeError, match="malformed compressed weight"):
        ops.compressed_linear(torch.randn(2, 0), row_ptr, entries, torch.randn(4))
    assert ops.compressed_linear(torch.randn(2, 0), torch.tensor([0, 0]), entries[:0], torch.randn(4)).abs().sum() == 0
