"""docs/results.md's generated tables agree with the committed summaries of `make demo` and `make lenet5`."""
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples" / "lenet"))
import results_doc  # noqa: E402


def test_the_results_page_says_what_the_summaries_say():
    assert not results_doc.update(check=True), "run python examples/lenet/results_doc.py and commit docs/results.md"


def test_a_changed_summary_makes_the_page_stale(tmp_path):
    shutil.copytree(ROOT / "results", tmp_path / "results", ignore=shutil.ignore_patterns("*.dcz"))
    summary_path = tmp_path / "results" / "lenet300" / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["file_bytes"] += 1
    summary_path.write_text(json.dumps(summary))
    page = results_doc.PAGE.read_text()
    assert results_doc.update(tmp_path / "results", check=True)
    assert results_doc.PAGE.read_text() == page, "check mode writes nothing"
    assert f"{summary['file_bytes'] - 1:,}".replace(",", " ") + " B" in page
    assert f"{summary['file_bytes']:,}".replace(",", " ") + " B" in results_doc.generated(
        page, results_doc.summaries(tmp_path / "results"))


def test_the_post_training_page_quotes_the_committed_summaries():
    page = (ROOT / "docs" / "post_training.md").read_text()
    for network in ("transformer", "resnet"):
        table = (ROOT / "results" / network / "summary.md").read_text().strip()
        assert table in page, f"docs/post_training.md does not quote results/{network}/summary.md"
        command = json.loads((ROOT / "results" / network / "summary.json").read_text())["command"].strip()
        assert f"`{command}`" in page
