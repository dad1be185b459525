"""deepcomp's layers in torch's own ops, for exporters that know torch's ops but not deepcomp's (ONNX:
torch.onnx.export, TorchScript-based or dynamo=True). The stored tensors stay what they are (weight
and mask; indices, mask and codebook; compressed rows and codebook): the exported graph decodes them
with Where, Gather, ScatterElements and CumSum, then runs MatMul or Conv. torch.jit.trace and
torch.export keep deepcomp's ops instead (their programs need deepcomp loaded)."""
import torch


def exporting() -> bool:
    """True while torch.onnx.export runs the model, with either exporter."""
    return torch.onnx.is_in_onnx_export()


def masked_weight(weight: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, weight, torch.zeros((), dtype=weight.dtype, device=weight.device))


def centroids(codebook: torch.Tensor, codes: torch.Tensor, rows: torch.Tensor, num_rows: int) -> torch.Tensor:
    """The centroid of each code, the codes lying in `rows` of a weight of first dimension num_rows:
    codebook[code], or codebook[row · groups // num_rows, code] for per-group codebooks (groups, k)."""
    if codebook.dim() == 1:
        return codebook[codes]
    return codebook[torch.div(rows * codebook.shape[0], num_rows, rounding_mode="floor"), codes]


def shared_weight(indices: torch.Tensor, mask: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    rows = torch.arange(indices.shape[0], device=indices.device).view(-1, *([1] * (indices.dim() - 1)))
    return masked_weight(centroids(codebook, indices.long(), rows, indices.shape[0]), mask)


def compressed_weight(row_ptr: torch.Tensor, entries: torch.Tensor, codebook: torch.Tensor, out_features: int,
                      in_features: int) -> torch.Tensor:
    """The dense (out_features, in_features) weight of compressed rows (entries: column << 8 | index)."""
    kept = entries.numel()
    # Each entry's row: a 1 where each row after the first starts (several where rows are empty),
    # summed up. Only ops with fixed output shapes, so that torch.export needs no data-dependent size.
    starts = torch.zeros(kept + 1, dtype=torch.long, device=entries.device)
    starts = starts.scatter_add(0, row_ptr[1:-1], torch.ones_like(row_ptr[1:-1]))
    rows = starts.cumsum(0)[:kept]
    entries = entries.long()
    columns = torch.div(entries, 256, rounding_mode="floor")
    values = centroids(codebook, torch.remainder(entries, 256), rows, out_features)
    weight = torch.zeros(out_features * in_features, dtype=codebook.dtype, device=codebook.device)
    return weight.scatter(0, rows * in_features + columns, values).view(out_features, in_features)
