"""deepcomp's CPU kernels split their work over torch's intra-op threads (a build without OpenMP ran them
all on one thread, silently), and give the one-thread results with any number of threads."""
import pytest
import torch

from deepcomp import ops


def test_cpu_kernels_run_on_torchs_threads():
    assert ops.cpu_kernels_parallel()


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def kernel_results():
    """Every threaded CPU kernel on one random layer: rows and elements split over the threads."""
    generator = torch.Generator().manual_seed(0)
    # Enough rows that batch 1 splits too (compressed_linear's grain is about 2^15 multiply-adds).
    out_features, in_features, batch = 1152, 1024, 24
    indices = torch.randint(0, 32, (out_features, in_features), dtype=torch.uint8, generator=generator)
    mask = torch.rand(out_features, in_features, generator=generator) < 0.6  # dense path of shared_linear
    sparse = mask & (torch.rand(out_features, in_features, generator=generator) < 0.1)  # its packed path
    codebook = torch.randn(32, generator=generator)
    x = torch.randn(batch, in_features, generator=generator)
    grad = torch.randn(batch, out_features, generator=generator)
    weight = torch.randn(out_features, in_features, generator=generator)
    row_ptr, entries = ops.compressed_linear_pack(indices, sparse)
    results = {"apply_mask": ops.apply_mask(weight, mask),
               "codebook_decode": ops.codebook_decode(indices, mask, codebook),
               "codebook_grad": ops.codebook_grad(weight, indices, mask, 32),
               "kmeans_quantize": ops.kmeans_quantize(weight, mask, 5)[1],
               "compressed_linear batch 1": ops.compressed_linear(x[:1], row_ptr, entries, codebook, None),
               "compressed_linear": ops.compressed_linear(x, row_ptr, entries, codebook, None),
               "compressed_linear_codebook_grad": ops.compressed_linear_codebook_grad(grad, x, row_ptr, entries, 32)}
    for name, keep in (("shared_linear", mask), ("shared_linear pruned", sparse)):
        leaf = codebook.clone().requires_grad_()
        inputs = x.clone().requires_grad_()
        out = ops.shared_linear(inputs, indices, keep, leaf, None)
        out.backward(grad)
        results.update({name: out.detach(), f"{name} input grad": inputs.grad, f"{name} codebook grad": leaf.grad})
    return results


def test_results_do_not_depend_on_the_thread_count(restore_threads):
    torch.set_num_threads(1)
    alone = kernel_results()
    torch.set_num_threads(3)
    threaded = kernel_results()
    for name, want in alone.items():
        # Sums over many terms (gradients, GEMMs) may group their terms by thread.
        torch.testing.assert_close(threaded[name], want, rtol=1e-5, atol=1e-4, msg=name)
