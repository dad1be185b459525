"""A .dcz written by C++ loads in Python, and the reverse. The C++ side is deepcomp_io_peer
(tests/cpp/io_peer.cpp, built with the C++ tests), which prints the state it wrote or read."""
import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
import torch.nn as nn

import deepcomp
from deepcomp.nn import MaskedLinear, SharedLinear, SharedMultiheadAttention

ROOT = Path(__file__).resolve().parents[2]
PEER = Path(os.environ.get("DEEPCOMP_IO_PEER", ROOT / "build" / "cmake" / "tests" / "cpp" / "deepcomp_io_peer"))


def agreed_model() -> nn.Sequential:
    """The model io_peer.cpp builds: 0 SharedLinear(16, 12, 4 bits), 1 ReLU, 2 MaskedLinear(12, 8), 3 Linear(8, 4),
    4 SharedMultiheadAttention(8, 2 heads, 4 bits)."""
    return nn.Sequential(SharedLinear(16, 12, bits=4), nn.ReLU(), MaskedLinear(12, 8), nn.Linear(8, 4),
                         SharedMultiheadAttention(8, 2, bits=4))


def run_peer(command: str, path: Path) -> dict:
    if not PEER.exists():
        pytest.fail(f"{PEER} is missing: build it with `cmake --build build/cmake --target deepcomp_io_peer`")
    done = subprocess.run([str(PEER), command, str(path)], capture_output=True, text=True, check=True)
    return {name: torch.tensor(values, dtype=torch.float64) for name, values in json.loads(done.stdout).items()}


def flat_state(model: nn.Module) -> dict:
    return {name: t.detach().to(torch.float64).flatten() for name, t in model.state_dict().items()}


def test_a_file_written_by_cpp_loads_in_python(tmp_path):
    path = tmp_path / "cpp.dcz"
    written = run_peer("write", path)
    model = deepcomp.load(path, agreed_model())
    state = flat_state(model)
    assert state.keys() == written.keys()
    for name, values in written.items():
        assert torch.equal(state[name], values), name
    assert 0 < int(model[0].mask.sum()) < model[0].mask.numel()
    kinds = {t.name: t.kind for t in deepcomp.inspect(path)}
    assert kinds["0.weight"] == "sparse_codebook" and kinds["4.in_proj_weight"] == "dense_codebook"


def test_a_file_written_by_python_loads_in_cpp(tmp_path):
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 8), nn.Linear(8, 4), nn.MultiheadAttention(8, 2))
    deepcomp.prune(model, sparsity=0.6, layers=["0", "2", "4"])
    deepcomp.quantize(model, layers=["0", "4"], bits=4)
    path = tmp_path / "python.dcz"
    deepcomp.save(model, path)
    read = run_peer("read", path)
    state = flat_state(model)
    assert read.keys() == state.keys()
    for name, values in state.items():
        assert torch.equal(read[name], values), name


class _Plain(nn.Module):
    """The agreed plain model of io_peer.cpp's `report`."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc1 = nn.Linear(36, 10)
        self.fc2 = nn.Linear(10, 5)


def test_both_languages_report_the_same_decisions(tmp_path):
    # The same weights through deepcomp.prune / quantize and deepcomp::prune / quantize: one pipeline,
    # so the same tables, row for row.
    torch.manual_seed(3)
    model = _Plain()
    path = tmp_path / "plain.dcz"
    deepcomp.save(model, path)
    if not PEER.exists():
        pytest.fail(f"{PEER} is missing: build it with `cmake --build build/cmake --target deepcomp_io_peer`")
    cpp = subprocess.run([str(PEER), "report", str(path)], capture_output=True, text=True, check=True).stdout
    python = f"{deepcomp.prune(model, sparsity=0.6)}\n\n{deepcomp.quantize(model, bits={'fc2': 4})}"
    assert cpp.split() == python.split()
    assert "Conv2d" in cpp and "fc2" in cpp
