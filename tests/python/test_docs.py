"""Every code block in docs/ runs as written: ```python here, ```sh here too (in a folder holding the
model.dcz, lenet.dcz and model.pt the blocks name), ```cpp in tests/cmake/test_doc_cpp_blocks.py. ```console
blocks show commands too long to run in a test (make demo, fuzzing) and are not run."""
import os
import pathlib
import re
import subprocess
import sys

import pytest
import torch

import deepcomp

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"


def blocks(language):
    return [(path.name, index, code)
            for path in sorted(DOCS.glob("*.md"))
            for index, code in enumerate(re.findall(rf"^```{language}\n(.*?)^```", path.read_text(), re.S | re.M))]


PYTHON_BLOCKS = blocks("python")
SHELL_BLOCKS = blocks("sh")


def ids(found):
    return [f"{name}-{index}" for name, index, _ in found]


@pytest.mark.parametrize("name,index,code", PYTHON_BLOCKS, ids=ids(PYTHON_BLOCKS))
def test_doc_python_block_runs(name, index, code):
    exec(compile(code, f"{name}[{index}]", "exec"), {})


@pytest.mark.parametrize("name,index,code", SHELL_BLOCKS, ids=ids(SHELL_BLOCKS))
def test_doc_shell_block_runs(name, index, code, tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    torch.save(model.state_dict(), tmp_path / "model.pt")  # a dense checkpoint, for `deepcomp compress`
    deepcomp.prune(model, sparsity=0.8)
    deepcomp.quantize(model)
    for file_name in ("model.dcz", "lenet.dcz"):
        deepcomp.save(model, tmp_path / file_name)
    # `deepcomp` and `python` are this environment's, as in an activated virtual environment.
    path = os.pathsep.join((os.path.dirname(sys.executable), os.environ["PATH"]))
    result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, env={**os.environ, "PATH": path})
    assert result.returncode == 0, f"{name}[{index}] failed:\n{code}\n{result.stdout}{result.stderr}"


def test_the_docs_have_code_blocks():
    assert len(PYTHON_BLOCKS) >= 2 and len(SHELL_BLOCKS) >= 3
