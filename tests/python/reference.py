"""Pure-PyTorch references of deepcomp's ops: the oracle the kernels are tested against."""
import torch
import torch.nn.functional as F


def apply_mask(weight, mask):
    return torch.where(mask, weight, torch.zeros_like(weight))


def masked_linear(input, weight, mask, bias=None):
    return F.linear(input, weight * mask, bias)


def masked_conv2d(input, weight, mask, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return F.conv2d(input, weight * mask, bias, stride, padding, dilation, groups)


def random_mask(shape, keep=0.5, device="cpu"):
    return torch.rand(shape, device=device) < keep


def relative_error(actual, expected):
    actual, expected = actual.detach().double(), expected.detach().double()
    denom = expected.norm()
    return float((actual - expected).norm() / (denom if denom > 0 else 1))


def codebook_decode(indices, mask, codebook):
    """A shared layer's weight by plain indexing: autograd through it gives the codebook's gradient. A
    (groups, k) codebook decodes slice r of the R along the first dimension by its row r·groups // R."""
    if codebook.dim() == 1:
        return codebook[indices.long()] * mask
    groups = torch.arange(indices.shape[0], device=indices.device) * codebook.shape[0] // indices.shape[0]
    return codebook[groups.view(-1, *[1] * (indices.dim() - 1)).expand_as(indices), indices.long()] * mask


def shared_linear(input, indices, mask, codebook, bias=None):
    return F.linear(input, codebook_decode(indices, mask, codebook), bias)


def shared_conv2d(input, indices, mask, codebook, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return F.conv2d(input, codebook_decode(indices, mask, codebook), bias, stride, padding, dilation, groups)


def squared_error(values, codebook, indices):
    """Σ (value - its centroid)², in float64."""
    return float(((values.double() - codebook.double()[indices.long()]) ** 2).sum())


def lloyd(values, centroids, max_iterations=100_000):
    """Textbook Lloyd in float64: assign each value to its nearest centroid, move each centroid to
    its cluster's mean (an empty cluster keeps its centroid), until no assignment changes."""
    x, c = values.double(), centroids.double().clone()
    assignment = None
    for _ in range(max_iterations):
        new = (x[:, None] - c[None, :]).abs().argmin(1)
        if assignment is not None and torch.equal(new, assignment):
            break
        assignment = new
        for j in range(c.numel()):
            members = x[assignment == j]
            if members.numel():
                c[j] = members.mean()
    return c, assignment


def optimal_squared_error(values, k):
    """The least squared error of any clustering of values into k groups, by brute force over the
    contiguous splits of the sorted values (an optimal 1-D clustering is contiguous)."""
    import itertools

    x = sorted(float(v) for v in values)
    best = float("inf")
    for cuts in itertools.combinations(range(1, len(x)), k - 1):
        bounds = (0, *cuts, len(x))
        error = 0.0
        for a, b in zip(bounds, bounds[1:]):
            part = x[a:b]
            mean = sum(part) / len(part)
            error += sum((v - mean) ** 2 for v in part)
        best = min(best, error)
    return best
