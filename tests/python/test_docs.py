"""Every Python code block in docs/ runs as written."""
import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"
BLOCKS = [(path.name, index, code)
          for path in sorted(DOCS.glob("*.md"))
          for index, code in enumerate(re.findall(r"```python\n(.*?)```", path.read_text(), re.S))]


@pytest.mark.parametrize("name,index,code", BLOCKS, ids=[f"{n}-{i}" for n, i, _ in BLOCKS])
def test_doc_code_block_runs(name, index, code):
    exec(compile(code, f"{name}[{index}]", "exec"), {})


def test_the_docs_have_code_blocks():
    assert len(BLOCKS) >= 2
