"""The command line: `deepcomp inspect FILE` and `python -m deepcomp`; user mistakes are one line."""
import subprocess
import sys

import torch.nn as nn

import deepcomp
from deepcomp.cli import main


def saved_model(tmp_path):
    model = nn.Sequential(nn.Linear(30, 20), nn.ReLU(), nn.Linear(20, 4))
    deepcomp.prune(model, sparsity=0.8)
    deepcomp.quantize(model)
    path = tmp_path / "m.dcz"
    deepcomp.save(model, path)
    return path


def test_inspect_prints_the_table(tmp_path, capsys):
    path = saved_model(tmp_path)
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert str(deepcomp.inspect(path)) in out
    assert "0.weight" in out and "sparse_codebook" in out and f"{path.stat().st_size} bytes" in out


def test_user_mistakes_are_one_line_and_exit_1(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing.dcz")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No such file" in err and "Traceback" not in err
    bad = tmp_path / "bad.dcz"
    bad.write_bytes(b"hello")
    assert main(["inspect", str(bad)]) == 1
    assert "wrong magic" in capsys.readouterr().err


def test_python_dash_m_and_help(tmp_path):
    path = saved_model(tmp_path)
    done = subprocess.run([sys.executable, "-m", "deepcomp", "inspect", str(path)], capture_output=True, text=True)
    assert done.returncode == 0 and "total (file)" in done.stdout
    done = subprocess.run([sys.executable, "-m", "deepcomp", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "inspect" in done.stdout
    done = subprocess.run([sys.executable, "-m", "deepcomp"], capture_output=True, text=True)
    assert done.returncode == 2 and "usage" in done.stderr
