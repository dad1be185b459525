"""ONNX export of masked, shared and compressed models with both of torch's exporters, run by
onnxruntime against PyTorch; and torch.jit.script refused with a message that says what works."""
import onnx
import onnxruntime
import pytest
import torch
import torch.nn as nn

import deepcomp
from deepcomp.nn import CompressedEmbedding, CompressedLinear


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect")
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, groups=2)
        self.fc = nn.Linear(8 * 3 * 3, 10)

    def forward(self, x):
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.fc(x.flatten(1))


def masked_model():
    model = ConvNet()
    deepcomp.prune(model, sparsity=0.7)
    return model


def shared_model():
    model = masked_model()
    deepcomp.quantize(model, bits=4)
    return model


def compressed_model():
    model = nn.Sequential(nn.Linear(40, 30), nn.ReLU(), nn.Linear(30, 7))
    deepcomp.prune(model, sparsity=0.8)
    deepcomp.quantize(model, bits=5)
    model[0] = CompressedLinear.from_shared(model[0])
    model[2] = CompressedLinear.from_shared(model[2])
    return model


class Sequence(nn.Module):
    """The layers with generic twins: an embedding, a 1-d convolution and a transposed one."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(30, 8)
        self.conv = nn.Conv1d(8, 6, 3, padding=1)
        self.up = nn.ConvTranspose1d(6, 4, 2, stride=2)

    def forward(self, tokens):
        return self.up(torch.relu(self.conv(self.embed(tokens).transpose(1, 2))))


def masked_sequence():
    model = Sequence()
    deepcomp.prune(model, sparsity=0.6)
    return model


def shared_sequence():
    model = masked_sequence()
    deepcomp.quantize(model, bits=4)
    return model


def compressed_sequence():
    model = shared_sequence()
    model.embed = CompressedEmbedding.from_shared(model.embed)
    return model


def images():
    return torch.randn(2, 3, 8, 8)


def tokens():
    return torch.randint(0, 30, (2, 5))


MODELS = {"masked": (masked_model, images), "shared": (shared_model, images),
          "compressed": (compressed_model, lambda: torch.randn(3, 40)), "masked sequence": (masked_sequence, tokens),
          "shared sequence": (shared_sequence, tokens), "compressed sequence": (compressed_sequence, tokens)}


def export(model, x, path, dynamo):
    torch.onnx.export(model, (x,), path, dynamo=dynamo, input_names=["x"], output_names=["y"], verbose=False)
    return onnx.load(path)


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("kind", list(MODELS))
def test_onnxruntime_gives_the_pytorch_output(kind, dynamo, tmp_path):
    torch.manual_seed(0)
    build, make_input = MODELS[kind]
    model = build().eval()
    x = make_input()
    expected = model(x)
    graph = export(model, x, str(tmp_path / "model.onnx"), dynamo).graph
    assert {node.domain for node in graph.node} <= {"", "ai.onnx"}, "only standard ONNX operators"
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    torch.testing.assert_close(torch.from_numpy(got), expected.detach(), rtol=1e-5, atol=1e-5)
    assert torch.equal(model(x), expected), "exporting changed nothing in the model"


def test_an_unfolded_export_keeps_indices_and_codebooks(tmp_path):
    torch.manual_seed(0)
    model = shared_model().eval()
    x = torch.randn(1, 3, 8, 8)
    torch.onnx.export(model, (x,), str(tmp_path / "model.onnx"), dynamo=False, do_constant_folding=False)
    stored = {init.name: init for init in onnx.load(str(tmp_path / "model.onnx")).graph.initializer}
    assert stored["fc.indices"].data_type == onnx.TensorProto.UINT8
    assert list(stored["fc.codebook"].dims) == [16]
    assert "fc.weight" not in stored


@pytest.mark.parametrize("kind", list(MODELS))
def test_torch_jit_script_is_refused_with_what_works_instead(kind):
    model = MODELS[kind][0]()
    with pytest.raises(RuntimeError, match=r"torch.jit.script cannot compile deepcomp.nn.\w+: use torch.jit.trace"):
        torch.jit.script(model)


def test_torch_jit_trace_keeps_deepcomp_ops():
    torch.manual_seed(0)
    model = shared_model().eval()
    x = torch.randn(2, 3, 8, 8)
    traced = torch.jit.trace(model, (x,))
    assert "deepcomp::shared_conv2d" in str(traced.conv1.graph)
    torch.testing.assert_close(traced(x), model(x))
