"""What the generic masked and shared layers need of the torch layer they stand for: its constructor's
arguments read back from a layer, its own options, its weight's name, and its forward with another
weight (torch's functional ops, as the torch layer calls them). Adding a layer type is one entry in
_FORWARDS."""
import inspect
from typing import Callable, Dict

import torch
import torch.nn.functional as F
from torch.nn.modules.conv import _ConvTransposeNd

from .. import _C

# Constructor arguments that are not options of the layer.
_NOT_OPTIONS = {"self", "device", "dtype", "_weight", "_freeze"}
# Options a layer keeps as tensors rather than under the argument's name.
_OPTIONS_AS_TENSORS = {
    torch.nn.MultiheadAttention: {"bias": lambda layer: layer.in_proj_bias is not None,
                                  "add_bias_kv": lambda layer: layer.bias_k is not None},
}
# The torch layers whose weight is not called `weight`: `<stem>weight`, with the twins' `<stem>mask`,
# `<stem>codebook` and `<stem>indices` (as the .dcz records them): the layer table's stems (C++ layer_kinds()).
WEIGHT_STEMS = {getattr(torch.nn, row["name"]): row["weight_stem"]
                for row in _C.layer_kinds() if row["stage"] == "dense" and row["weight_stem"]}


def weight_stem(module: torch.nn.Module) -> str:
    """The stem of the weight's name: "" for most layers, "in_proj_" for attention (and its twins)."""
    return WEIGHT_STEMS.get(getattr(module, "dense_type", type(module)), "")


def dense_weight(module: torch.nn.Module) -> torch.Tensor:
    """The layer's dense weight: a plain or masked layer's Parameter, a shared layer's decoded weight."""
    return getattr(module, weight_stem(module) + "weight")


def dense_options(dense_type: type, module: torch.nn.Module) -> dict:
    """dense_type's constructor arguments (but device and dtype) as module has them; bias as a bool."""
    options = {}
    as_tensors = _OPTIONS_AS_TENSORS.get(dense_type, {"bias": lambda layer: layer.bias is not None})
    for name in inspect.signature(dense_type.__init__).parameters:
        if name in as_tensors:
            options[name] = as_tensors[name](module)
        elif name not in _NOT_OPTIONS:
            options[name] = getattr(module, name)
    return options


def layer_attributes(layer: torch.nn.Module) -> dict:
    """The attributes a torch layer sets beyond nn.Module's own (its normalised options: tuples,
    'same' padding, padding_idx counted from 0, ...), without its tensors."""
    plain = vars(torch.nn.Module())
    return {name: value for name, value in vars(layer).items() if name not in plain}


def _conv(dense_type: type) -> Callable:
    def forward(module, weight, input):
        return dense_type._conv_forward(module, input, weight, module.bias)
    return forward


def _conv_transpose(functional: Callable, spatial_dims: int) -> Callable:
    def forward(module, weight, input, output_size=None):
        output_padding = _ConvTransposeNd._output_padding(module, input, output_size, module.stride, module.padding,
                                                          module.kernel_size, spatial_dims, module.dilation)
        return functional(input, weight, module.bias, module.stride, module.padding, output_padding, module.groups,
                          module.dilation)
    return forward


def _embedding(module, weight, input):
    return F.embedding(input, weight, module.padding_idx, module.max_norm, module.norm_type, module.scale_grad_by_freq,
                       module.sparse)


def _embedding_bag(module, weight, input, offsets=None, per_sample_weights=None):
    return F.embedding_bag(input, weight, offsets, module.max_norm, module.norm_type, module.scale_grad_by_freq,
                           module.mode, module.sparse, per_sample_weights, module.include_last_offset,
                           module.padding_idx)


def bags_of(rows: torch.Tensor, input: torch.Tensor, offsets, per_sample_weights, mode: str,
            include_last_offset: bool, padding_idx) -> torch.Tensor:
    """nn.EmbeddingBag's bags of rows looked up already: rows[i] is the row of input's i-th index (input
    flattened). Lookups of padding_idx point at an extra zero row that embedding_bag leaves out of its bags."""
    lookups = torch.arange(rows.shape[0], device=rows.device).view(input.shape)
    padding = None
    if padding_idx is not None:
        padding = rows.shape[0]
        lookups = torch.where(input.to(lookups.device) == padding_idx, padding, lookups)
        rows = torch.cat([rows, rows.new_zeros(1, rows.shape[1])])
    return F.embedding_bag(lookups, rows, offsets, mode=mode, per_sample_weights=per_sample_weights,
                           include_last_offset=include_last_offset, padding_idx=padding)


def _attention(module, in_proj_weight, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
               average_attn_weights=True, is_causal=False):
    """nn.MultiheadAttention's forward (its packed projection) with in_proj_weight: torch's own path for
    every input (its fast path is an inference kernel for the same result)."""
    is_batched = query.dim() == 3
    key_padding_mask = F._canonical_mask(mask=key_padding_mask, mask_name="key_padding_mask",
                                         other_type=F._none_or_dtype(attn_mask), other_name="attn_mask",
                                         target_type=query.dtype)
    attn_mask = F._canonical_mask(mask=attn_mask, mask_name="attn_mask", other_type=None, other_name="",
                                  target_type=query.dtype, check_other=False)
    if module.batch_first and is_batched:  # each tensor transposed once: `query is key` still means self-attention
        transposed = {}
        query, key, value = (transposed.setdefault(id(x), x.transpose(1, 0)) for x in (query, key, value))
    out_proj = module.out_proj  # a masked one computes (and gets its gradient) masked
    out_weight = out_proj.masked_weight() if hasattr(out_proj, "masked_weight") else out_proj.weight
    output, weights = F.multi_head_attention_forward(
        query, key, value, module.embed_dim, module.num_heads, in_proj_weight, module.in_proj_bias, module.bias_k,
        module.bias_v, module.add_zero_attn, module.dropout, out_weight, out_proj.bias,
        training=module.training, key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
        average_attn_weights=average_attn_weights, is_causal=is_causal)
    return (output.transpose(1, 0) if module.batch_first and is_batched else output), weights


# dense type -> forward(module, weight, *inputs) computing what dense_type computes with `weight`.
_FORWARDS: Dict[type, Callable] = {
    torch.nn.Conv1d: _conv(torch.nn.Conv1d),
    torch.nn.Conv3d: _conv(torch.nn.Conv3d),
    torch.nn.ConvTranspose1d: _conv_transpose(F.conv_transpose1d, 1),
    torch.nn.ConvTranspose2d: _conv_transpose(F.conv_transpose2d, 2),
    torch.nn.ConvTranspose3d: _conv_transpose(F.conv_transpose3d, 3),
    torch.nn.Embedding: _embedding,
    torch.nn.EmbeddingBag: _embedding_bag,
    torch.nn.MultiheadAttention: _attention,
}
GENERIC_DENSE_TYPES = tuple(_FORWARDS)


def forward_with(dense_type: type, module: torch.nn.Module, weight: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    """What module (a dense_type, or a layer with its attributes) computes on the inputs with `weight`."""
    return _FORWARDS[dense_type](module, weight, *args, **kwargs)


def check_supported(layer: torch.nn.Module, twin: str) -> None:
    """Refuses the options a twin cannot honour: sparse embedding gradients (the twins' weight is
    computed, so its gradient reaches the stored tensors through a dense masked or per-cluster sum)."""
    if getattr(layer, "sparse", False):
        raise ValueError(f"{twin}: sparse=True (sparse gradients) is not supported; the weight's gradient is "
                         "dense through the mask or the codebook. Use sparse=False")
    if not getattr(layer, "_qkv_same_embed_dim", True):
        raise ValueError(f"{twin}: kdim and vdim must be embed_dim ({layer.embed_dim}), got {layer.kdim} and "
                         f"{layer.vdim}: only the packed in_proj_weight is supported, not separate q, k and v "
                         "projections")
