"""torch.jit.script and deepcomp's layers: refused with a message that says what works instead.

TorchScript (in maintenance in torch) would need each layer's Python rewritten in its subset; tracing
and torch.export record deepcomp's ops as they run, and ONNX export runs the layers in torch's ops."""


class NotScriptable:
    """Mixin of every deepcomp layer: torch.jit.script calls __prepare_scriptable__ on each module first."""

    def __prepare_scriptable__(self):
        raise RuntimeError(
            f"torch.jit.script cannot compile deepcomp.nn.{type(self).__name__}: use torch.jit.trace(model, "
            "example_inputs) or torch.export.export(model, args) (both keep deepcomp's ops; load deepcomp "
            "where they run), torch.onnx.export, or deepcomp.to_plain(model) for plain torch layers")
