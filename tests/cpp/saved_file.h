// A model saved to a temporary .dcz file, removed when the test ends (also on a failure), and a
// module's tensors by name, for the save/load tests.
#pragma once

#include <deepcomp/deepcomp.h>

#include "helpers.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace deepcomp::testing {

struct SavedFile {
  // `name` must be unique among the tests: ctest runs them in parallel.
  SavedFile(const torch::nn::Module& model, const std::string& name)
      : path(path_of(name)), report(deepcomp::save(model, path)) {}
  SavedFile(const deepcomp::NamedTensors& state, const std::string& name)
      : path(path_of(name)), report(deepcomp::save_state(state, path)) {}
  ~SavedFile() { std::filesystem::remove(path); }
  // The format version: bytes 8 and 9, little-endian.
  int version() const {
    std::ifstream file(path, std::ios::binary);
    unsigned char header[10] = {};
    file.read(reinterpret_cast<char*>(header), sizeof header);
    return header[8] | header[9] << 8;
  }
  const std::string path;
  const deepcomp::FileReport report;

 private:
  static std::string path_of(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("deepcomp_test_" + name)).string();
  }
};

inline std::map<std::string, torch::Tensor> state_of(const torch::nn::Module& model) {
  std::map<std::string, torch::Tensor> state;
  for (const auto& item : model.named_parameters()) state[item.key()] = item.value();
  for (const auto& item : model.named_buffers()) state[item.key()] = item.value();
  return state;
}

// loaded has every tensor of expected, by name, bit for bit, and no other.
inline void check_same_state(const torch::nn::Module& expected, const torch::nn::Module& loaded) {
  const auto want = state_of(expected);
  const auto got = state_of(loaded);
  REQUIRE(want.size() == got.size());
  for (const auto& [name, tensor] : want) {
    INFO(name);
    REQUIRE(got.count(name) == 1);
    CHECK(got.at(name).sizes() == tensor.sizes());
    CHECK(torch::equal(got.at(name), tensor));
  }
}

}  // namespace deepcomp::testing
