"""What the generic masked and shared layers need of the torch layer they stand for: its constructor's
arguments read back from a layer, its own options, and its forward with another weight (torch's
functional ops, as the torch layer calls them). Adding a layer type is one entry in _FORWARDS."""
import inspect
from typing import Callable, Dict

import torch
import torch.nn.functional as F
from torch.nn.modules.conv import _ConvTransposeNd

# Constructor arguments that are not options of the layer.
_NOT_OPTIONS = {"self", "device", "dtype", "_weight", "_freeze"}


def dense_options(dense_type: type, module: torch.nn.Module) -> dict:
    """dense_type's constructor arguments (but device and dtype) as module has them; bias as a bool."""
    options = {}
    for name in inspect.signature(dense_type.__init__).parameters:
        if name == "bias":
            options[name] = module.bias is not None
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


# dense type -> forward(module, weight, *inputs) computing what dense_type computes with `weight`.
_FORWARDS: Dict[type, Callable] = {
    torch.nn.Conv1d: _conv(torch.nn.Conv1d),
    torch.nn.Conv3d: _conv(torch.nn.Conv3d),
    torch.nn.ConvTranspose1d: _conv_transpose(F.conv_transpose1d, 1),
    torch.nn.ConvTranspose2d: _conv_transpose(F.conv_transpose2d, 2),
    torch.nn.ConvTranspose3d: _conv_transpose(F.conv_transpose3d, 3),
    torch.nn.Embedding: _embedding,
    torch.nn.EmbeddingBag: _embedding_bag,
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
