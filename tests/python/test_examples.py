"""The LeNet examples run end to end (on a slice of Fashion-MNIST): every stage, the .dcz file, the
reload check and the summaries."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
pytestmark = pytest.mark.slow  # each runs a whole example in a subprocess


@pytest.mark.skipif(not DATA.exists(), reason="needs Debian's dataset-fashion-mnist (scripts/setup.sh installs it)")
@pytest.mark.parametrize("script", ["lenet300.py", "lenet5.py"])
def test_lenet_example_runs_every_stage(tmp_path, script):
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "lenet" / script), "--epochs", "1",
                           "--retrain-epochs", "1", "--rounds", "1", "--finetune-epochs", "1",
                           "--train-limit", "10000", "--out", str(tmp_path)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    name = summary["network"]
    dcz = tmp_path / f"{name}.dcz"
    assert summary["file_bytes"] == dcz.stat().st_size
    assert summary["reloaded_accuracy"] == summary["finetuned_accuracy"] > 0.5  # chance is 0.1
    assert summary["compression_rate"] > 10
    markdown = (tmp_path / "summary.md").read_text()
    assert "rate (P+Q+H)" in markdown and f"**{summary['file_bytes']}**" in markdown
    assert "reloaded from the .dcz file" in done.stdout
    assert "--train-limit 10000" in summary["command"]  # what reproduces this run, not the default target


@pytest.mark.skipif(not DATA.exists(), reason="needs Debian's dataset-fashion-mnist (scripts/setup.sh installs it)")
@pytest.mark.parametrize("network", ["transformer", "resnet"])
def test_post_training_example_measures_every_option(tmp_path, network):
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "post_training" / "post_training.py"), "--network",
                           network, "--epochs", "1", "--train-limit", "1000", "--test-limit", "500", "--calibration",
                           "256", "--out", str(tmp_path)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    rows = {row["option"]: row for row in summary["rows"]}
    assert rows["fp32 (saved raw)"]["cosine"] == 1.0 and 0.98 < rows["fp32 (saved raw)"]["rate"] <= 1.0
    assert rows["quantize 3 bits, k-means"]["rate"] > rows["quantize 8 bits, k-means"]["rate"] > 2
    assert rows["quantize 8 bits, k-means"]["cosine"] > 0.99
    assert "prune 50% by activation (calibrated)" in rows and "... then 1 epoch(s) of fine-tuning" in rows
    assert "quantize 4 bits, exact k-means, a codebook per 4 channels" in rows
    for option in ("2 to 5 bits by sensitivity (exact k-means)",  # the widths bits_for_budget chose fit the budget
                   "2 to 5 bits by sensitivity (exact k-means), a codebook per 16 channels",
                   "2 to 8 bits by weight error alone, no data (exact k-means)"):
        mixed = rows[f"mixed {option}, a file of at most fp32 / 8"]
        assert summary["fp32_bytes"] / 8 >= mixed["file_bytes"] > summary["fp32_bytes"] / 12
    assert "| option | file bytes |" in (tmp_path / "summary.md").read_text()
