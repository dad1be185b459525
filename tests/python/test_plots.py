"""deepcomp.plots: each plot returns a Figure and writes a valid PNG; bad inputs are clear errors."""
import copy
import os
import sys

import pytest
import torch
import torch.nn as nn

import deepcomp
from deepcomp import plots
from deepcomp.nn import MaskedLinear, SharedConv2d

pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import imread  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    with open(path, "rb") as file:
        assert file.read(8) == PNG_SIGNATURE
    height, width, _ = imread(path).shape
    assert height > 100 and width > 100
    assert not [n for n in os.listdir(os.path.dirname(path)) if ".tmp" in n]  # no temporary left


class StandInSensitivity:
    """What plot_sensitivity needs of deepcomp.sensitivity's report."""

    def __init__(self, interrupted=False, curves=None):
        self.baseline = 0.97
        self.interrupted = interrupted
        self._curves = curves if curves is not None else {
            "prune": {f"fc{i}": [(s, 0.97 - s ** (2 + i)) for s in (0.9, 0.0, 0.5)] for i in range(3)},
            "quantize": {f"fc{i}": [(b, 0.97 - 0.1 / b) for b in (2, 4, 8)] for i in range(3)},
        }

    def curves(self, kind="prune"):
        return self._curves.get(kind, {})


def pruned_layer():
    torch.manual_seed(0)
    dense = nn.Linear(60, 40)
    masked = MaskedLinear.from_dense(copy.deepcopy(dense))  # from_dense shares the weight; keep dense's
    deepcomp.prune(nn.Sequential(masked), sparsity=0.7)
    return dense, masked


def test_plot_weights_of_every_kind_of_input(tmp_path):
    dense, masked = pruned_layer()
    shared = SharedConv2d.from_dense(nn.Conv2d(3, 8, 3), bits=4)
    for index, (source, options) in enumerate([(dense, {"mask": masked.mask}), (masked, {}), (shared, {}),
                                               (dense.weight.detach(), {"bits": 3, "inits": ["density"]}),
                                               (masked, {"codebook": torch.linspace(-0.1, 0.1, 8)})]):
        path = tmp_path / f"w{index}.png"
        figure = plots.plot_weights(source, path=path, **options)
        assert isinstance(figure, Figure)
        assert_png(path)


def test_plot_weights_marks_each_init_and_the_trained_codebook():
    dense, masked = pruned_layer()
    figure = plots.plot_weights(dense, mask=masked.mask, bits=3)
    assert len(figure.axes) == 2  # before and after pruning
    assert figure.axes[0].get_title() == "before pruning: all 2400 weights"
    assert figure.axes[1].get_title() == "after pruning: 720 of 2400 kept (30.0%)"
    labels = [t.get_text() for t in figure.axes[1].get_legend().get_texts()]
    assert labels == ["linear init → k-means (8)", "density init → k-means (8)", "random init → k-means (8)"]
    shared = SharedConv2d.from_dense(nn.Conv2d(3, 8, 3), bits=2)
    figure = plots.plot_weights(shared)
    assert len(figure.axes) == 1  # nothing pruned: one panel
    assert [t.get_text() for t in figure.axes[0].get_legend().get_texts()] == ["trained codebook (4)"]
    assert "SharedConv2d" in figure.get_suptitle() and "2-bit" in figure.get_suptitle()


def test_plot_weights_rejects_bad_input(tmp_path):
    dense, masked = pruned_layer()
    with pytest.raises(TypeError, match="nn.Linear or nn.Conv2d"):
        plots.plot_weights(nn.ReLU())
    with pytest.raises(TypeError, match="floating point"):
        plots.plot_weights(torch.ones(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="its own mask"):
        plots.plot_weights(masked, mask=masked.mask)
    with pytest.raises(ValueError, match=r"bool tensor of the weights' shape \(40, 60\)"):
        plots.plot_weights(dense, mask=torch.ones(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="bits must be in 1..8"):
        plots.plot_weights(dense, bits=9)
    with pytest.raises(ValueError, match="unknown init 'kmeans\\+\\+'"):
        plots.plot_weights(dense, inits=["kmeans++"])
    with pytest.raises(ValueError, match="NaN or Inf"):
        plots.plot_weights(torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match="no image format"):
        plots.plot_weights(dense, path=tmp_path / "plot.nope")
    with pytest.raises(FileNotFoundError) as error:
        plots.plot_weights(dense, path=tmp_path / "missing" / "w.png")
    assert error.value.filename == str(tmp_path / "missing" / "w.png")


@pytest.mark.parametrize("kind", ["prune", "quantize"])
def test_plot_sensitivity_one_line_per_layer(tmp_path, kind):
    path = tmp_path / "sensitivity.png"
    figure = plots.plot_sensitivity(StandInSensitivity(), kind=kind, path=path)
    assert_png(path)
    ax = figure.axes[0]
    assert len(ax.get_lines()) == 4  # three layers and the baseline
    assert list(ax.get_lines()[0].get_xdata()) == ([0.0, 0.5, 0.9] if kind == "prune" else [2, 4, 8])
    assert "interrupted" not in ax.get_title()
    assert "interrupted" in plots.plot_sensitivity(StandInSensitivity(interrupted=True)).axes[0].get_title()


def test_plot_sensitivity_rejects_bad_input():
    with pytest.raises(ValueError, match="kind must be 'prune' or 'quantize'"):
        plots.plot_sensitivity(StandInSensitivity(), kind="huffman")
    with pytest.raises(TypeError, match="sensitivity report"):
        plots.plot_sensitivity({"fc": [(0.5, 0.9)]})
    with pytest.raises(ValueError, match="no 'quantize' curves"):
        plots.plot_sensitivity(StandInSensitivity(curves={"prune": {"fc": [(0.5, 0.9)]}}), kind="quantize")


def saved(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.Flatten(), nn.Linear(8 * 26 * 26, 20), nn.ReLU(), nn.Linear(20, 4))
    deepcomp.prune(model, sparsity={"2": 0.9, "4": 0.5})
    deepcomp.quantize(model, layers=["0", "2"])
    return deepcomp.save(model, tmp_path / "m.dcz")


def test_bytes_by_part_adds_up_to_the_file(tmp_path):
    report = saved(tmp_path)
    rows = plots.bytes_by_part(report)
    assert [r.name for r in rows] == ["0.weight", "2.weight", "4.weight", "(3 raw tensors)"]
    assert sum(sum(r.after.values()) for r in rows) == sum(t.bytes for t in report.tensors)
    conv, linear = report["0.weight"], report["2.weight"]
    assert rows[0].before["index"] == conv.index_bytes_before_huffman == conv.kept * conv.index_bits // 8
    assert rows[0].before["gap"] == 0
    assert rows[1].before["gap"] == linear.gap_bytes_before_huffman == -(-linear.gap_entries * linear.gap_bits // 8)
    for row in rows[:3]:  # P+Q: the report's bytes before Huffman coding, and the record's name and framing
        t = report[row.name]
        assert row.after["names"] == t.name_bytes == 1 + len(row.name)  # a one-byte length, then the name
        assert sum(row.before.values()) == t.bytes_before_huffman + row.after["names"] + row.after["framing"]
        assert row.after["framing"] > 0
    assert rows[1].after["index"] == linear.index_bytes and rows[1].after["codebook"] == linear.codebook_bytes
    assert rows[2].after["values"] == rows[2].before["values"] == report["4.weight"].value_bytes


@pytest.mark.parametrize("log", [False, True])
def test_plot_bytes(tmp_path, log):
    path = tmp_path / "bytes.png"
    figure = plots.plot_bytes(saved(tmp_path), log=log, path=path)
    assert isinstance(figure, Figure)
    assert_png(path)
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["0.weight", "2.weight", "4.weight",
                                                                        "(3 raw tensors)"]
    with pytest.raises(TypeError, match="FileReport"):
        plots.plot_bytes({"tensors": []})


def test_without_matplotlib_the_error_says_how_to_install_it(monkeypatch):
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib...` raises ImportError
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plots.plot_weights(torch.randn(10))


def test_plot_weights_of_a_stored_layer_shows_no_spike_and_its_own_bits():
    # A masked layer (or a .dcz file) keeps pruned weights as 0: no "before pruning" panel of zeros.
    dense, masked = pruned_layer()
    figure = plots.plot_weights(masked)
    assert len(figure.axes) == 1 and figure.axes[0].get_title() == "after pruning: 720 of 2400 kept (30.0%)"
    # A 4-bit codebook given with the weights: a 4-bit title, whatever the layer's kind would default to.
    figure = plots.plot_weights(masked.weight.detach(), mask=masked.mask, codebook=torch.linspace(-0.1, 0.1, 16))
    assert "4-bit codebooks" in figure.get_suptitle()


def test_plot_sensitivity_ticks_whole_bits():
    report = StandInSensitivity(curves={"quantize": {"fc0": [(1, 0.5), (2, 0.8), (3, 0.9)]}})
    figure = plots.plot_sensitivity(report, kind="quantize")
    figure.canvas.draw()
    ticks = [tick for tick in figure.axes[0].get_xticks() if 1 <= tick <= 3]
    assert ticks and all(float(tick).is_integer() for tick in ticks)
