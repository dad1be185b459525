"""deepcomp: Deep Compression (Han, Mao, Dally, ICLR 2016) for PyTorch.

Stage 1, pruning::

    report = deepcomp.prune(model, sparsity=0.9)   # nn.Linear/nn.Conv2d -> masked twins, in place
    print(report)                                  # per-layer table
    # ... retrain with any optimizer: pruned weights stay exactly zero ...

Stage 2, trained quantization::

    report = deepcomp.quantize(model)              # -> SharedLinear/SharedConv2d (5 / 8 bits), in place
    # ... fine-tune the codebooks with an optimizer built over model.parameters() ...

Stage 3, Huffman coding into a compressed model file::

    report = deepcomp.save(model, "model.dcz")      # the file's size is the compression reported
    deepcomp.load("model.dcz", fresh_model)         # plain or shared layers; or load(path) -> state dict

Resuming from a torch.save(model.state_dict()) checkpoint of a compressed model, into a fresh one::

    deepcomp.match_layers(fresh_model, state).load_state_dict(state)   # the saved layer types, no k-means

Back to plain torch layers (decoded weights), e.g. for export::

    deepcomp.to_plain(model)
"""
import os as _os

import torch  # noqa: F401  (loads LibTorch, which libdeepcomp links against)

from . import _C  # noqa: F401  (loading libdeepcomp registers the ops: torch.ops.deepcomp.*)
from . import distributed, nn, ops, plots
from ._files import open_atomically, write_atomically
from .calibrate import Calibration, InputMoments, calibrate
from .checkpoint import compress_state
from .io import FileReport, FormatError, TensorFileStats, inspect, load, load_state, save
from .match_layers import match_layers, to_plain
from .nn import enforce_masks
from .prune import LayerPruneStats, PruneReport, prune
from .quantize import LayerQuantizeStats, QuantizeReport, quantize
from .schedule import PruningSchedule
from .sensitivity import SensitivityPoint, SensitivityReport, sensitivity

__version__ = "0.1.0"
built_with_cuda = _C.built_with_cuda
constants = _C.constants  # bit ranges, the paper's defaults, init and method names, gap limits
# For C++ users of this installation, as torch.utils.cmake_prefix_path: CMAKE_PREFIX_PATH for
# find_package(deepcomp) (the package's headers, CMake files and libdeepcomp are inside it).
cmake_prefix_path = _os.path.join(_os.path.dirname(__file__), "share", "cmake")

__all__ = [
    "Calibration",
    "FileReport",
    "FormatError",
    "InputMoments",
    "LayerPruneStats",
    "LayerQuantizeStats",
    "PruneReport",
    "PruningSchedule",
    "QuantizeReport",
    "SensitivityPoint",
    "SensitivityReport",
    "TensorFileStats",
    "built_with_cuda",
    "calibrate",
    "cmake_prefix_path",
    "compress_state",
    "constants",
    "distributed",
    "enforce_masks",
    "inspect",
    "load",
    "load_state",
    "match_layers",
    "nn",
    "open_atomically",
    "ops",
    "plots",
    "prune",
    "quantize",
    "save",
    "sensitivity",
    "to_plain",
    "write_atomically",
]
