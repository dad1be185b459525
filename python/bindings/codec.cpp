// deepcomp._C.codec: the torch-free Huffman stream coder (csrc/codec/stream.h) on plain byte
// buffers, for benchmarks and tests. The C++ work runs without the GIL. FormatError (a malformed
// stream) reaches Python as deepcomp.FormatError (io.cpp registers it); std::invalid_argument (bad
// arguments, a symbol outside the alphabet) as ValueError.
#include "bindings.h"

#include "codec/byte_io.h"
#include "codec/huffman.h"
#include "codec/stream.h"

#include <deepcomp/format_error.h>

#include <pybind11/numpy.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace py = pybind11;

namespace deepcomp::bindings {
namespace {

// The bytes of a C-contiguous buffer of uint8 (bytes, bytearray, memoryview, numpy uint8 array),
// held (and kept alive by `info`) while the GIL is released.
struct ByteSpan {
  py::buffer_info info;
  uint8_t* data() const { return static_cast<uint8_t*>(info.ptr); }
  uint64_t size() const { return static_cast<uint64_t>(info.size); }
};

ByteSpan byte_span(const py::buffer& buffer, const char* name, bool writable = false) {
  py::buffer_info info = buffer.request(writable);
  if (info.itemsize != 1 || (info.format != "B" && info.format != "c")) {
    throw std::invalid_argument(std::string(name) + " must be a buffer of uint8, got format '" + info.format +
                                "' with " + std::to_string(info.itemsize) + "-byte items");
  }
  py::ssize_t stride = 1;
  for (py::ssize_t d = info.ndim - 1; d >= 0; --d) {
    if (info.shape[d] > 1 && info.strides[d] != stride) {
      throw std::invalid_argument(std::string(name) + " must be C-contiguous");
    }
    stride *= info.shape[d];
  }
  return ByteSpan{std::move(info)};
}

void check_alphabet_bits(int alphabet_bits) {
  if (alphabet_bits < 1 || alphabet_bits > 8) {
    throw std::invalid_argument("alphabet_bits must be in 1..8, got " + std::to_string(alphabet_bits));
  }
}

py::bytes encode_stream(const py::buffer& symbols, int alphabet_bits, int max_code_length) {
  check_alphabet_bits(alphabet_bits);
  const ByteSpan in = byte_span(symbols, "symbols");
  codec::ByteWriter out;
  {
    py::gil_scoped_release release;
    codec::write_stream(out, in.data(), in.size(), alphabet_bits, max_code_length);
  }
  return py::bytes(reinterpret_cast<const char*>(out.bytes().data()), static_cast<py::ssize_t>(out.size()));
}

py::array_t<uint8_t> decode_stream(const py::buffer& data, int alphabet_bits, const py::object& out) {
  check_alphabet_bits(alphabet_bits);
  const ByteSpan in = byte_span(data, "data");
  codec::ByteReader reader(in.data(), in.size(), "stream");
  auto check_all_read = [&] {
    if (reader.remaining() != 0) {
      reader.fail(std::to_string(reader.remaining()) + " byte(s) after the stream");
    }
  };
  if (out.is_none()) {
    auto symbols = std::make_unique<std::vector<uint8_t>>();
    {
      py::gil_scoped_release release;
      *symbols = codec::read_stream(reader, alphabet_bits, codec::kAnyCount, "stream");
      check_all_read();
    }
    // The array takes the vector over: no copy.
    const auto size = static_cast<py::ssize_t>(symbols->size());
    uint8_t* pointer = symbols->data();
    py::capsule owner(symbols.get(), [](void* vector) { delete static_cast<std::vector<uint8_t>*>(vector); });
    symbols.release();
    return py::array_t<uint8_t>({size}, {py::ssize_t{1}}, pointer, owner);
  }
  // Checked before any cast: casting a list would decode into a temporary copy.
  if (!py::isinstance<py::array_t<uint8_t>>(out)) throw std::invalid_argument("out must be a numpy array of uint8");
  auto target = py::reinterpret_borrow<py::array_t<uint8_t>>(out);
  if (target.ndim() != 1 || !(target.flags() & py::array::c_style) || !target.writeable()) {
    throw std::invalid_argument("out must be a writable, contiguous 1-d numpy array of uint8");
  }
  // The stream starts with its length limit and its symbol count (stream.h): `out` must hold them.
  {
    codec::ByteReader header(in.data(), in.size(), "stream");
    header.u8("maximum code length");
    const uint64_t count = header.varint("symbol count");
    if (count != static_cast<uint64_t>(target.size())) {
      throw std::invalid_argument("out has " + std::to_string(target.size()) + " elements, the stream holds " +
                                  std::to_string(count) + " symbols");
    }
  }
  uint8_t* destination = target.mutable_data();
  {
    py::gil_scoped_release release;
    codec::read_stream_into(reader, alphabet_bits, destination, static_cast<uint64_t>(target.size()), "stream");
    check_all_read();
  }
  return target;
}

py::list code_lengths(const py::buffer& symbols, int alphabet_bits, int max_code_length) {
  check_alphabet_bits(alphabet_bits);
  const ByteSpan in = byte_span(symbols, "symbols");
  std::vector<uint8_t> lengths;
  {
    py::gil_scoped_release release;
    const auto frequencies = codec::symbol_frequencies(in.data(), in.size(), 1 << alphabet_bits);
    lengths = codec::huffman_code_lengths(frequencies, max_code_length);
  }
  py::list result;
  for (const uint8_t length : lengths) result.append(static_cast<int>(length));
  return result;
}

}  // namespace

void bind_codec(py::module_& m) {
  auto codec = m.def_submodule("codec", "The Huffman stream coder of .dcz files (csrc/codec/stream.h)");
  codec.attr("DEFAULT_MAX_CODE_LENGTH") = codec::kDefaultMaxCodeLength;
  codec.attr("MAX_CODE_LENGTH") = codec::kMaxCodeLength;
  codec.def("encode_stream", &encode_stream, py::arg("symbols"), py::arg("alphabet_bits"),
            py::arg("max_code_length") = codec::kDefaultMaxCodeLength,
            "The self-describing Huffman stream (bytes) of symbols, a contiguous uint8 buffer of values "
            "< 2**alphabet_bits (alphabet_bits in 1..8), coded with an optimal code of at most "
            "max_code_length (1..15) bits, raised to the shortest limit that fits the symbols used: "
            "exactly what a .dcz record stores. ValueError for a symbol outside the alphabet.");
  codec.def("decode_stream", &decode_stream, py::arg("data"), py::arg("alphabet_bits"), py::arg("out") = py::none(),
            "The symbols (numpy uint8 array of shape (count,)) of a stream made by encode_stream; data is "
            "a contiguous uint8 buffer holding exactly one stream. With out (a writable contiguous 1-d "
            "uint8 array of exactly count elements) decodes into it and returns it. deepcomp.FormatError "
            "for a malformed stream or bytes after it; ValueError for an out of the wrong size.");
  codec.def("code_lengths", &code_lengths, py::arg("symbols"), py::arg("alphabet_bits"),
            py::arg("max_code_length") = codec::kDefaultMaxCodeLength,
            "The code length in bits of each of the 2**alphabet_bits symbols (0: unused) that "
            "encode_stream would use for symbols: list[int].");
}

}  // namespace deepcomp::bindings
