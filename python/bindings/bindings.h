// The parts of deepcomp._C, one file each.
#pragma once

#include <pybind11/pybind11.h>

namespace deepcomp::bindings {

// codec.cpp: the torch-free Huffman stream coder (for benchmarks and tests).
void bind_codec(pybind11::module_& m);
// io.cpp: FormatError, save/load of .dcz files, FileReport.
void bind_io(pybind11::module_& m);
// pipeline.cpp: the layer table, constants, and the decisions of prune, quantize, sensitivity, schedule.
void bind_pipeline(pybind11::module_& m);

}  // namespace deepcomp::bindings
