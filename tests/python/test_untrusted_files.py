"""Untrusted files and failed loads: a decoding limit, loads that change all or nothing, only regular
files read, the replaced file's mode kept, names printed safely."""
import os
import stat
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

import deepcomp
from deepcomp.nn import MaskedLinear


def _fully_pruned(path):
    """A tiny file declaring a million float64 weights, all pruned: ~9 MB once decoded."""
    layer = MaskedLinear(1024, 1024, bias=False, dtype=torch.float64)
    with torch.no_grad():
        layer.mask.zero_()
        layer.weight.zero_()
    deepcomp.save(nn.Sequential(layer), path, gap_bits=8)  # a 1-bit filler code covers 255 positions
    return path


def test_a_file_that_decodes_past_max_bytes_is_refused(tmp_path):
    path = _fully_pruned(tmp_path / "pruned.dcz")
    assert os.path.getsize(path) < 2000
    with pytest.raises(deepcomp.FormatError, match=r"'0.weight': decodes to 9437184 bytes.*decoding limit"):
        deepcomp.load(path, max_bytes=1_000_000)
    with pytest.raises(deepcomp.FormatError, match="decoding limit"):
        deepcomp.inspect(path, max_bytes=1_000_000)
    with pytest.raises(deepcomp.FormatError, match="decoding limit"):
        deepcomp.load_state(path, ["0.weight", "0.mask"], max_bytes=1_000_000)
    assert deepcomp.load(path)["0.weight"].shape == (1024, 1024)  # the default limit: at least 1 GiB
    with pytest.raises(ValueError, match="max_bytes must be an int >= 0"):
        deepcomp.load(path, max_bytes=-1)


def test_the_cli_takes_max_bytes_and_escapes_control_characters(tmp_path):
    path = _fully_pruned(tmp_path / "pruned.dcz")
    cli = [sys.executable, "-m", "deepcomp"]
    done = subprocess.run(cli + ["inspect", str(path), "--max-bytes", "1000"], capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "decoding limit" in done.stderr
    mask = torch.tensor([True, False, True, False])
    deepcomp.save({"evil\x1b[2J\x07.weight": torch.ones(4) * mask, "evil\x1b[2J\x07.mask": mask}, tmp_path / "names.dcz")
    done = subprocess.run(cli + ["inspect", str(tmp_path / "names.dcz")], capture_output=True, text=True)
    assert done.returncode == 0 and "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert "evil\\x1b[2J\\x07.weight" in done.stdout


def _state(model):
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def _same(model, before):
    state = model.state_dict()
    return state.keys() == before.keys() and all(torch.equal(state[k], before[k]) for k in before)


def test_a_load_that_fails_leaves_the_model_as_it_was(tmp_path):
    torch.manual_seed(0)
    deepcomp.save(nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 3)), tmp_path / "a.dcz")
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))  # the first layer matches, the last does not
    before = _state(model)
    with pytest.raises(ValueError, match=r"nothing was loaded.*1.weight: the file's \(3, 4\), the model's \(2, 4\)"):
        deepcomp.load(tmp_path / "a.dcz", model)
    assert _same(model, before)


def test_a_file_of_other_bits_leaves_a_shared_model_as_it_was(tmp_path):
    torch.manual_seed(1)
    four = nn.Sequential(nn.Linear(8, 8))
    deepcomp.quantize(four, bits=4)
    deepcomp.save(four, tmp_path / "four.dcz")
    three = nn.Sequential(nn.Linear(8, 8))
    deepcomp.quantize(three, bits=3)
    before = _state(three)
    with pytest.raises(ValueError, match=r"0.codebook: the file's \(16,\), the model's \(8,\)"):
        deepcomp.load(tmp_path / "four.dcz", three)
    assert _same(three, before)


@pytest.mark.parametrize("compressed", [False, True])
def test_match_layers_is_undone_when_the_load_fails(tmp_path, compressed):
    torch.manual_seed(2)
    saved = nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 3))
    deepcomp.prune(saved, sparsity=0.5)
    deepcomp.quantize(saved, bits=4)
    deepcomp.save(saved, tmp_path / "q.dcz")
    fresh = nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 3), nn.ReLU(), nn.Linear(3, 2))  # one layer more
    before, types = _state(fresh), [type(m) for m in fresh]
    with pytest.raises(ValueError, match="the file has nothing for '4.weight'"):
        deepcomp.load(tmp_path / "q.dcz", fresh, match_layers=True, compressed=compressed)
    assert [type(m) for m in fresh] == types and _same(fresh, before)


def test_only_regular_files_are_read(tmp_path):
    fifo = tmp_path / "pipe.dcz"
    os.mkfifo(fifo)
    # In a child, so that a regression (an open that waits for a writer) fails instead of hanging the suite.
    code = f"import deepcomp\ntry:\n    deepcomp.load({str(fifo)!r})\nexcept OSError as e:\n    print('OSError', e)\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "OSError [Errno 22]" in done.stdout  # EINVAL: not a regular file


def test_the_magic_bytes_are_checked_first(tmp_path):
    path = tmp_path / "big.dcz"
    with open(path, "wb") as f:
        f.write(b"PK\x03\x04 not a dcz")
        f.truncate(1 << 34)  # 16 GiB, sparse on disk: reading it whole would take that much memory
    with pytest.raises(deepcomp.FormatError, match="wrong magic bytes"):
        deepcomp.inspect(path)


def test_saving_keeps_the_mode_of_the_file_it_replaces_and_follows_links(tmp_path):
    path = tmp_path / "private.dcz"
    deepcomp.save({"x": torch.ones(3)}, path)
    os.chmod(path, 0o600)
    report = deepcomp.save({"x": torch.zeros(3)}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert report.file_bytes == os.path.getsize(path)
    link = tmp_path / "link.dcz"
    os.symlink(path, link)
    deepcomp.save({"x": torch.full((3,), 2.0)}, link)
    assert os.path.islink(link) and torch.equal(deepcomp.load(path)["x"], torch.full((3,), 2.0))
    long_name = tmp_path / ("m" * 250)
    deepcomp.save({"x": torch.ones(1)}, long_name)
    assert torch.equal(deepcomp.load(long_name)["x"], torch.ones(1))


def test_a_write_that_fails_inside_torch_save_is_an_oserror(tmp_path):
    # A file-size limit stands in for a full disk: torch.save would report "unexpected pos".
    code = (
        "import resource, signal, torch, deepcomp\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, 1 << 16))\n"
        "try:\n"
        f"    with deepcomp.open_atomically({str(tmp_path / 'big.pt')!r}) as f:\n"
        "        torch.save({'x': torch.zeros(1 << 20)}, f)\n"
        "except OSError as error:\n"
        "    print('OSError', error.errno)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith("OSError 27"), done.stdout + done.stderr  # EFBIG
    assert os.listdir(tmp_path) == []  # nothing at the path, no temporary


def test_a_name_with_control_bytes_is_shown_whole_in_errors(tmp_path):
    with pytest.raises(ValueError, match=r"record 'a\\x00b\.weight'"):
        deepcomp.save({"a\x00b.weight": torch.ones(2)}, tmp_path / "nul.dcz")
    with pytest.raises(ValueError, match=r"no layer named 'x\\x00y'"):
        deepcomp.prune(nn.Sequential(nn.Linear(2, 2)), sparsity=0.5, layers=["x\x00y"])
