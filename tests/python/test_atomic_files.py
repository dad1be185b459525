"""deepcomp.open_atomically / write_atomically: the one writer of every file the package writes."""
import os

import pytest
import torch

import deepcomp


def test_torch_save_streams_into_a_file_that_appears_whole(tmp_path):
    path = tmp_path / "checkpoint.pt"
    state = {"weight": torch.randn(512, 1024), "epoch": 7}
    with deepcomp.open_atomically(path) as file:
        torch.save(state, file)
        assert not path.exists()  # only a temporary file until the block ends
        assert len(os.listdir(tmp_path)) == 1
    loaded = torch.load(path)
    assert torch.equal(loaded["weight"], state["weight"]) and loaded["epoch"] == 7
    assert os.listdir(tmp_path) == ["checkpoint.pt"]


def test_an_exception_while_writing_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "checkpoint.pt"
    deepcomp.write_atomically(path, b"old")
    with pytest.raises(RuntimeError, match="stopped"):
        with deepcomp.open_atomically(path) as file:
            file.write(b"new, but only half")
            raise RuntimeError("stopped")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["checkpoint.pt"]


def test_write_atomically_takes_any_contiguous_byte_buffer(tmp_path):
    path = tmp_path / "data.bin"
    deepcomp.write_atomically(path, bytearray(b"\x00\x01"))
    assert path.read_bytes() == b"\x00\x01"
    deepcomp.write_atomically(str(path), memoryview(b"abcd")[1:3])
    assert path.read_bytes() == b"bc"
    with pytest.raises(TypeError):
        deepcomp.write_atomically(path, "text is not bytes")
    assert path.read_bytes() == b"bc"


def test_errors_name_the_path(tmp_path):
    missing = tmp_path / "no such folder" / "model.dcz"
    with pytest.raises(FileNotFoundError) as raised:
        with deepcomp.open_atomically(missing):
            pass
    assert raised.value.filename == str(missing)
    folder = tmp_path / "a folder"
    (folder / "inside").mkdir(parents=True)
    with pytest.raises(OSError) as raised:
        deepcomp.write_atomically(folder, b"x")
    assert raised.value.filename == str(folder)
    assert (folder / "inside").is_dir() and sorted(os.listdir(tmp_path)) == ["a folder"]
