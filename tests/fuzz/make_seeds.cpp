// Writes the fuzzing seed corpora: small valid .dcz files into argv[1], and Huffman streams (a byte
// selecting the alphabet, then the stream) into argv[2]. Built and run by run_fuzz.sh.
#include "codec/byte_io.h"
#include "codec/container.h"
#include "codec/stream.h"
#include "sample_records.h"

#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace deepcomp::codec;
using deepcomp::codec::testing::random_record;
using deepcomp::codec::testing::sample_records;

namespace {

void save(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const std::string containers = argv[1], streams = argv[2];
  std::mt19937_64 rng(7);
  std::vector<std::vector<TensorRecord>> files = {
      {},
      sample_records(),
      {random_record(rng, "r", TensorKind::raw, DType::float64, {2, 3})},
      {random_record(rng, "d", TensorKind::dense_codebook, DType::bfloat16, {17}, 1)},
      {random_record(rng, "d8", TensorKind::dense_codebook, DType::float32, {70}, 8)},
      {random_record(rng, "s", TensorKind::sparse_codebook, DType::float32, {50}, 2, 1, 10)},
      {random_record(rng, "s8", TensorKind::sparse_codebook, DType::float16, {3, 40}, 3, 8, 5)},
      {random_record(rng, "p", TensorKind::sparse_raw, DType::boolean, {60}, 0, 3, 0)},
      {random_record(rng, "e", TensorKind::sparse_raw, DType::int32, {0, 4}, 0, 2),
       random_record(rng, "z", TensorKind::dense_codebook, DType::float32, {0}, 3)},
  };
  for (size_t i = 0; i < files.size(); ++i) save(containers + "/seed" + std::to_string(i) + ".dcz", write_container(files[i]));
  for (int bits = 1; bits <= 8; ++bits) {
    for (int variant = 0; variant < 3; ++variant) {
      std::vector<uint8_t> symbols(variant == 0 ? 0 : variant == 1 ? 1 : 37);
      std::geometric_distribution<int> skew(0.4);
      for (auto& s : symbols) s = static_cast<uint8_t>(skew(rng) % (1 << bits));
      ByteWriter out;
      out.u8(static_cast<uint64_t>(bits - 1));
      write_stream(out, symbols, bits, variant == 2 ? 5 : kDefaultMaxCodeLength);
      save(streams + "/stream" + std::to_string(bits) + "_" + std::to_string(variant), out.bytes());
    }
  }
  return 0;
}
