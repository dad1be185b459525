// The .dcz file functions for deepcomp/io.py, the atomic file writer for deepcomp/_files.py, and
// how C++ errors reach Python: FormatError (a ValueError), file errors as OSError
// (FileNotFoundError, ...) with errno and path, c10's ValueError and TypeError as themselves.
#include "bindings.h"

#include <deepcomp/io.h>

#include <pybind11/stl.h>
#include <torch/csrc/utils/pybind.h>

#include <cerrno>

#include "codec/file_io.h"

namespace py = pybind11;

namespace deepcomp::bindings {
namespace {

void translate_errors(py::module_& m) {
  static py::exception<FormatError> format_error(m, "FormatError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr pointer) {
    try {
      if (pointer) std::rethrow_exception(pointer);
    } catch (const FormatError& error) {
      py::set_error(format_error, error.what());
    } catch (const codec::FileError& error) {
      errno = error.code().value();
      PyErr_SetFromErrnoWithFilename(PyExc_OSError, error.path().c_str());
    } catch (const c10::ValueError& error) {
      py::set_error(PyExc_ValueError, error.what_without_backtrace());
    } catch (const c10::TypeError& error) {
      py::set_error(PyExc_TypeError, error.what_without_backtrace());
    }
  });
}

py::dict stats_dict(const TensorFileStats& t) {
  py::dict d;
  d["name"] = t.name;
  d["kind"] = t.kind;
  d["shape"] = t.shape;
  d["weights"] = t.weights;
  d["kept"] = t.kept;
  d["index_bits"] = t.index_bits;
  d["codebook_groups"] = t.codebook_groups;
  d["index_bits_coded"] = t.index_bits_coded;
  d["gap_bits"] = t.gap_bits;
  d["gap_bits_coded"] = t.gap_bits_coded;
  d["gap_entries"] = t.gap_entries;
  d["name_bytes"] = t.name_bytes;
  d["codebook_bytes"] = t.codebook_bytes;
  d["index_bytes"] = t.index_bytes;
  d["gap_bytes"] = t.gap_bytes;
  d["value_bytes"] = t.value_bytes;
  d["bytes"] = t.bytes;
  d["index_bytes_before_huffman"] = t.index_bytes_before_huffman;
  d["gap_bytes_before_huffman"] = t.gap_bytes_before_huffman;
  d["bytes_before_huffman"] = t.bytes_before_huffman;
  d["rate"] = t.rate();
  d["rate_before_huffman"] = t.rate_before_huffman();
  return d;
}

py::dict report_dict(const FileReport& report) {
  py::list tensors;
  for (const auto& t : report.tensors) tensors.append(stats_dict(t));
  py::dict d;
  d["file_bytes"] = report.file_bytes;
  d["dense_bytes"] = report.dense_bytes;
  d["rate"] = report.rate();
  d["tensors"] = tensors;
  return d;
}

void bind_report(py::module_& m) {
  py::class_<TensorFileStats>(m, "TensorFileStats", "One tensor of a .dcz file: a row of the paper's Tables 2-5.")
      .def_readonly("name", &TensorFileStats::name)
      .def_readonly("kind", &TensorFileStats::kind, "raw, dense_codebook, sparse_codebook or sparse_raw")
      .def_readonly("shape", &TensorFileStats::shape)
      .def_readonly("weights", &TensorFileStats::weights, "elements")
      .def_readonly("kept", &TensorFileStats::kept, "elements stored (unpruned)")
      .def_readonly("index_bits", &TensorFileStats::index_bits, "bits per codebook index before Huffman coding")
      .def_readonly("codebook_groups", &TensorFileStats::codebook_groups,
                    "codebooks, each for an equal slice of the first dimension (0 for kinds without one)")
      .def_readonly("index_bits_coded", &TensorFileStats::index_bits_coded, "... and after (stream bits / kept)")
      .def_readonly("gap_bits", &TensorFileStats::gap_bits, "bits per relative index before Huffman coding")
      .def_readonly("gap_bits_coded", &TensorFileStats::gap_bits_coded, "... and after (stream bits / entries)")
      .def_readonly("gap_entries", &TensorFileStats::gap_entries, "kept weights and fillers")
      .def_readonly("name_bytes", &TensorFileStats::name_bytes, "the tensor's name and its length")
      .def_readonly("codebook_bytes", &TensorFileStats::codebook_bytes)
      .def_readonly("index_bytes", &TensorFileStats::index_bytes)
      .def_readonly("gap_bytes", &TensorFileStats::gap_bytes)
      .def_readonly("value_bytes", &TensorFileStats::value_bytes)
      .def_readonly("bytes", &TensorFileStats::bytes, "the tensor's whole record in the file")
      .def_readonly("index_bytes_before_huffman", &TensorFileStats::index_bytes_before_huffman,
                    "the index stream at index_bits per kept weight, in whole bytes")
      .def_readonly("gap_bytes_before_huffman", &TensorFileStats::gap_bytes_before_huffman,
                    "the gap stream at gap_bits per entry, in whole bytes")
      .def_readonly("bytes_before_huffman", &TensorFileStats::bytes_before_huffman,
                    "the data with fixed-width indices and gaps (the paper's P+Q)")
      .def_property_readonly("rate_before_huffman", &TensorFileStats::rate_before_huffman)
      .def_property_readonly("kept_fraction", &TensorFileStats::kept_fraction)
      .def_property_readonly("rate", &TensorFileStats::rate, "fp32 bytes of the dense tensor / bytes in the file")
      .def("__repr__", [](const TensorFileStats& t) {
        return "TensorFileStats(name='" + t.name + "', kind='" + t.kind + "', bytes=" + std::to_string(t.bytes) + ")";
      });
  py::class_<FileReport>(m, "FileReport", "The per-tensor report of a .dcz file; str() is the paper-style table.")
      .def_readonly("tensors", &FileReport::tensors)
      .def_readonly("file_bytes", &FileReport::file_bytes, "the file's real size")
      .def_readonly("dense_bytes", &FileReport::dense_bytes, "fp32 bytes of every tensor the file holds")
      .def_property_readonly("rate", &FileReport::rate, "dense_bytes / file_bytes")
      .def("table", &FileReport::table)
      .def("to_dict", &report_dict, "the report as plain dicts and lists, for JSON")
      .def("__str__", &FileReport::table)
      .def("__len__", [](const FileReport& r) { return r.tensors.size(); })
      .def("__iter__", [](const FileReport& r) { return py::make_iterator(r.tensors.begin(), r.tensors.end()); },
           py::keep_alive<0, 1>())
      .def("__getitem__", [](const FileReport& r, const std::string& name) {
        for (const auto& t : r.tensors) {
          if (t.name == name) return t;
        }
        throw py::key_error("no tensor '" + name + "' in this file");
      });
}

}  // namespace

void bind_io(py::module_& m) {
  translate_errors(m);
  bind_report(m);
  m.def(
      "save_state",
      [](const NamedTensors& state, const std::string& path, std::optional<int64_t> gap_bits, int64_t max_code_length) {
        py::gil_scoped_release release;
        return save_state(state, path, SaveOptions{gap_bits, max_code_length});
      },
      py::arg("state"), py::arg("path"), py::arg("gap_bits"), py::arg("max_code_length"));
  py::class_<DczFile>(m, "DczFile", "A .dcz file read and checked once: report(), dense() and state(names)")
      .def(py::init<const std::string&, std::optional<int64_t>>(), py::arg("path"), py::arg("max_bytes") = py::none(),
           py::call_guard<py::gil_scoped_release>())
      .def("report", &DczFile::report, py::call_guard<py::gil_scoped_release>())
      .def(
          "dense",
          [](const DczFile& file) {
            py::gil_scoped_release release;
            NamedTensors state;
            for (const auto& item : file.dense()) state.emplace_back(item.key(), item.value());
            return state;
          })
      .def("state", &DczFile::state, py::arg("names"), py::call_guard<py::gil_scoped_release>());
  // The writer save() uses, so that every file the package writes is written one way.
  py::class_<codec::AtomicFile>(m, "AtomicFile", "A file written in pieces, appearing at path only on commit()")
      .def(py::init<std::string>(), py::arg("path"))
      .def(
          "write",
          [](codec::AtomicFile& file, const py::buffer& data) {
            const py::buffer_info bytes = data.request();
            if (bytes.ndim != 1 || bytes.itemsize != 1 || bytes.strides[0] != 1) {
              throw py::type_error("AtomicFile.write needs contiguous bytes");
            }
            py::gil_scoped_release release;
            file.write(static_cast<const uint8_t*>(bytes.ptr), static_cast<uint64_t>(bytes.size));
          },
          py::arg("data"))
      .def("commit", &codec::AtomicFile::commit, py::call_guard<py::gil_scoped_release>())
      .def("discard", &codec::AtomicFile::discard);
}

}  // namespace deepcomp::bindings
