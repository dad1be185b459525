"""What the masked layers share: a bool `mask` buffer, and pruned weights that stay exactly zero.

The ops mask the weight gradient, but an optimizer can still move a pruned weight: momentum or Adam
state built before pruning, for instance. So every optimizer step is followed (through torch's
global optimizer step hook) by re-zeroing the pruned entries of the masked weights it updated.
The hook holds no module alive and costs one dictionary look-up per parameter per step.
"""
import weakref

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from .. import ops
from . import standard_ops
from .dense_forward import dense_options, dense_weight, weight_stem
from .scripting import NotScriptable

_live_layers: "weakref.WeakSet[MaskedLayer]" = weakref.WeakSet()


class MaskedLayer(NotScriptable):
    """Mixin of the masked layers (before the torch.nn layer they stand for in the bases)."""

    dense_type: type
    weight: torch.nn.Parameter
    mask: torch.Tensor

    def _register_mask(self) -> None:
        self.register_buffer(weight_stem(self) + "mask", torch.ones_like(self.weight, dtype=torch.bool))
        _live_layers.add(self)

    def __setstate__(self, state):  # copy.deepcopy and unpickling skip __init__
        super().__setstate__(state)
        _live_layers.add(self)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # The torch layer it stands for: its first base from torch.nn.
        cls.dense_type = next((base for base in cls.__mro__ if base.__module__.startswith("torch.nn.")), None)

    @classmethod
    def from_dense(cls, module: torch.nn.Module) -> "MaskedLayer":
        """A masked layer that shares module's weight and bias Parameters (so optimizers that hold them go
        on working); all kept, or module's mask if it is masked. module: this layer's torch layer."""
        if not isinstance(module, cls.dense_type):
            raise TypeError(f"{cls.__name__}.from_dense needs an nn.{cls.dense_type.__name__}, got "
                            f"{type(module).__name__}")
        layer = cls(**dense_options(cls.dense_type, module), device="meta", dtype=dense_weight(module).dtype)
        return layer._adopt(module)

    def _adopt(self, dense: torch.nn.Module) -> "MaskedLayer":
        """Takes over dense's Parameters (weight, bias, ...) and children (attention's out_proj)."""
        for name, parameter in dense._parameters.items():
            setattr(self, name, parameter)
        for name, child in dense._modules.items():
            setattr(self, name, child)
        setattr(self, weight_stem(self) + "mask", dense.mask.clone() if isinstance(dense, MaskedLayer)
                else torch.ones_like(dense_weight(dense), dtype=torch.bool))
        self.train(dense.training)
        return self

    def masked_weight(self) -> torch.Tensor:
        """The weight as the layer computes with it: masked, its gradient masked too."""
        if standard_ops.exporting():
            return standard_ops.masked_weight(self.weight, self.mask)
        return ops.apply_mask(self.weight, self.mask)

    def kept(self) -> int:
        """How many weights survive the mask."""
        return int(self.mask.sum())

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, kept={self.kept()}/{self.mask.numel()}"


def enforce_masks(model: torch.nn.Module) -> None:
    """Zeroes the pruned weights of every masked layer of model (after a manual weight update)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, MaskedLayer):
                ops.apply_mask_(module.weight, module.mask)


def _zero_pruned_weights_after_step(optimizer, args, kwargs) -> None:
    if not _live_layers:
        return
    by_weight = {id(layer.weight): layer for layer in list(_live_layers)}
    with torch.no_grad():
        for group in optimizer.param_groups:
            for param in group["params"]:
                layer = by_weight.get(id(param))
                if layer is not None:
                    ops.apply_mask_(param, layer.mask)


register_optimizer_step_post_hook(_zero_pruned_weights_after_step)
