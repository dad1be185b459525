"""The command line: `deepcomp inspect FILE`, `report FILE [--plot DIR]`, `decompress FILE OUT.pt`, and
`python -m deepcomp`; user mistakes are one line."""
import os
import shutil
import subprocess
import sys

import pytest
import torch
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


def assert_one_line_error(capsys, *words):
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err, captured.err
    for word in words:
        assert word in captured.err, captured.err
    return captured.err


def test_report_prints_the_table_and_where_the_bytes_go(tmp_path, capsys):
    path = saved_model(tmp_path)
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    assert str(deepcomp.inspect(path)).rstrip() in out and "where the bytes go" in out
    total = [line for line in out.splitlines() if line.startswith("total ")][-1]
    assert total.split()[-1] == str(path.stat().st_size)  # after Huffman: every byte of the file
    assert "wrote" not in out and not (tmp_path / "plots").exists()


def test_report_plot_writes_pngs(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = saved_model(tmp_path)
    plots = tmp_path / "plots" / "new"
    assert main(["report", str(path), "--plot", str(plots)]) == 0
    assert "wrote 3 plots" in capsys.readouterr().out
    assert sorted(p.name for p in plots.iterdir()) == ["bytes.png", "weights_0.weight.png", "weights_2.weight.png"]
    for png in plots.iterdir():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "a_file").write_text("")
    assert main(["report", str(path), "--plot", str(tmp_path / "a_file")]) == 1
    assert_one_line_error(capsys, "deepcomp report: error:", "a_file")


def test_report_without_matplotlib_is_one_line(tmp_path, capsys, monkeypatch):
    path = saved_model(tmp_path)
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["report", str(path), "--plot", str(tmp_path / "plots")]) == 1
    assert_one_line_error(capsys, "pip install matplotlib")


def test_decompress_writes_a_dense_state_dict(tmp_path, capsys):
    path = saved_model(tmp_path)
    out = tmp_path / "dense.pt"
    assert main(["decompress", str(path), str(out)]) == 0
    state = deepcomp.load(path)
    assert f"{out}: {len(state)} tensors, {out.stat().st_size} bytes" in capsys.readouterr().out
    loaded = torch.load(out, weights_only=True)
    assert list(loaded) == list(state) and all(torch.equal(loaded[k], state[k]) for k in state)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dense.pt", "m.dcz"]  # no temporary left


def test_decompress_refuses_to_overwrite_without_force(tmp_path, capsys):
    path = saved_model(tmp_path)
    out = tmp_path / "dense.pt"
    out.write_bytes(b"keep me")
    assert main(["decompress", str(path), str(out)]) == 1
    assert_one_line_error(capsys, "exists", "--force")
    assert out.read_bytes() == b"keep me"
    assert main(["decompress", str(path), str(out), "--force"]) == 0
    assert set(torch.load(out, weights_only=True)) == set(deepcomp.load(path))


@pytest.mark.parametrize("command", ["inspect", "report", "decompress"])
def test_bad_files_are_one_line_and_exit_1(tmp_path, capsys, command):
    path = saved_model(tmp_path)
    extra = [str(tmp_path / "out.pt")] if command == "decompress" else []
    assert main([command, str(tmp_path / "missing.dcz"), *extra]) == 1
    assert_one_line_error(capsys, f"deepcomp {command}: error:", "No such file")
    text = tmp_path / "notes.txt"
    text.write_text("not a model\n")
    assert main([command, str(text), *extra]) == 1
    assert_one_line_error(capsys, "wrong magic")
    corrupted = tmp_path / "corrupted.dcz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    corrupted.write_bytes(bytes(data))
    assert main([command, str(corrupted), *extra]) == 1
    assert_one_line_error(capsys, "corrupted.dcz")
    assert not (tmp_path / "out.pt").exists()


@pytest.mark.parametrize("command", [[], ["inspect"], ["report"], ["decompress"]])
def test_help_everywhere(command, capsys):
    with pytest.raises(SystemExit) as exit:
        main([*command, "--help"])
    assert exit.value.code == 0
    assert "usage: deepcomp" in capsys.readouterr().out


def test_console_entry_point(tmp_path):
    path = saved_model(tmp_path)
    script = shutil.which("deepcomp", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("the deepcomp console script is not installed beside this Python")
    done = subprocess.run([script, "report", str(path)], capture_output=True, text=True)
    assert done.returncode == 0 and "where the bytes go" in done.stdout
    done = subprocess.run([script, "decompress", str(tmp_path / "missing.dcz"), str(tmp_path / "o.pt")],
                          capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_report_plot_into_a_file_fails_before_printing(tmp_path):
    model = nn.Sequential(nn.Linear(8, 4))
    deepcomp.save(model, tmp_path / "m.dcz")
    (tmp_path / "taken").write_text("a file")
    done = subprocess.run([sys.executable, "-m", "deepcomp", "report", str(tmp_path / "m.dcz"), "--plot",
                           str(tmp_path / "taken")], capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == "" and "is a file" in done.stderr
