#include "helpers.h"
#include "saved_file.h"
#include <deepcomp/deepcomp.h>

#include <filesystem>
#include <fstream>

namespace {

using deepcomp::testing::random_mask;
using deepcomp::testing::SavedFile;
using deepcomp::testing::check_same_state;
using deepcomp::testing::state_of;

// A shared conv layer, a shared linear one (pruned), a masked one and a plain one.
struct NetImpl : torch::nn::Module {
  NetImpl() {
    const auto conv_options = torch::nn::Conv2dOptions(2, 4, 3);
    register_module("conv", deepcomp::nn::SharedConv2d(conv_options, torch::randn({4, 2, 3, 3}),
                                                       torch::ones({4, 2, 3, 3}, torch::kBool),
                                                       torch::randn({4}), 8));
    register_module("fc1", deepcomp::nn::SharedLinear(torch::nn::LinearOptions(36, 20), torch::randn({20, 36}),
                                                      random_mask({20, 36}, 0.2), torch::randn({20}), 5));
    deepcomp::nn::MaskedLinear fc2(20, 10);
    fc2->mask.copy_(random_mask({10, 20}, 0.3));
    fc2->weight.data().mul_(fc2->mask);
    register_module("fc2", fc2);
    register_module("fc3", torch::nn::Linear(10, 3));
  }
};
TORCH_MODULE(Net);

// Plain layers of the same shapes.
struct PlainNetImpl : torch::nn::Module {
  PlainNetImpl() {
    register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 4, 3)));
    register_module("fc1", torch::nn::Linear(36, 20));
    register_module("fc2", torch::nn::Linear(20, 10));
    register_module("fc3", torch::nn::Linear(10, 3));
  }
};
TORCH_MODULE(PlainNet);

}  // namespace

TEST_CASE("save writes the compressed kinds and load restores a deepcomp model exactly", "[io]") {
  torch::manual_seed(40);
  Net net;
  const SavedFile file(*net, "io_exact.dcz");
  const auto& report = file.report;
  CHECK(report.file_bytes == static_cast<int64_t>(std::filesystem::file_size(file.path)));
  std::map<std::string, std::string> kinds;
  for (const auto& t : report.tensors) {
    kinds[t.name] = t.kind;
    CHECK(t.index_bytes_before_huffman == (t.kept * t.index_bits + 7) / 8);
    CHECK(t.gap_bytes_before_huffman == (t.gap_entries * t.gap_bits + 7) / 8);
    CHECK(t.bytes_before_huffman ==
          t.codebook_bytes + t.value_bytes + t.index_bytes_before_huffman + t.gap_bytes_before_huffman);
  }
  CHECK(kinds["conv.weight"] == "dense_codebook");
  CHECK(kinds["fc1.weight"] == "sparse_codebook");
  CHECK(kinds["fc2.weight"] == "sparse_raw");
  CHECK(kinds["fc3.weight"] == "raw");
  CHECK(kinds["fc1.bias"] == "raw");
  CHECK(kinds.count("fc1.codebook") == 0);
  CHECK(report.table().find("sparse_codebook") != std::string::npos);

  torch::manual_seed(41);
  Net fresh;
  deepcomp::load(file.path, *fresh);
  check_same_state(*net, *fresh);
}

TEST_CASE("load gives plain layers the decoded weights, and a dense state dict", "[io]") {
  torch::manual_seed(42);
  Net net;
  const SavedFile file(*net, "io_plain.dcz");
  PlainNet plain;
  deepcomp::load(file.path, *plain);
  auto* fc1 = net->named_children()["fc1"]->as<deepcomp::nn::SharedLinearImpl>();
  const auto* plain_fc1 = plain->named_children()["fc1"]->as<torch::nn::LinearImpl>();
  CHECK(torch::equal(plain_fc1->weight, fc1->weight().detach()));
  const auto dense = deepcomp::load(file.path);
  CHECK(dense.size() == 8);
  CHECK(torch::equal(dense["fc1.weight"], fc1->weight().detach()));
  const auto input = torch::randn({5, 36});
  CHECK(torch::allclose(torch::nn::functional::linear(input, dense["fc1.weight"], dense["fc1.bias"]),
                        fc1->forward(input)));
}

TEST_CASE("load names what does not match, and malformed files raise FormatError", "[io][errors]") {
  torch::manual_seed(43);
  PlainNet plain;
  const SavedFile file(*plain, "io_errors.dcz");
  const auto& path = file.path;
  Net net;  // shared layers need codebooks the plain file lacks
  CHECK_THROWS_AS(deepcomp::load(path, *net), c10::ValueError);
  CHECK_THROWS_WITH(deepcomp::load(path, *net), Catch::Contains("'fc1.codebook'"));
  CHECK_THROWS_WITH(deepcomp::save(*plain, path, {.gap_bits = 9}), Catch::Contains("gap_bits must be in 1..8"));

  std::vector<char> bytes(std::filesystem::file_size(path));
  std::ifstream(path, std::ios::binary).read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes[bytes.size() / 2] ^= 4;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  CHECK_THROWS_AS(deepcomp::load(path), deepcomp::FormatError);
  CHECK_THROWS_WITH(deepcomp::inspect(path), Catch::Contains("checksum mismatch"));
  CHECK_THROWS_AS(deepcomp::load(path + ".missing"), std::system_error);
}

TEST_CASE("a DczFile read once answers what inspect, load and load_state answer", "[io]") {
  torch::manual_seed(44);
  Net net;
  const SavedFile saved(*net, "io_once.dcz");
  const deepcomp::DczFile file(saved.path);
  std::filesystem::remove(saved.path);  // everything below comes from the one read
  CHECK(file.path() == saved.path);
  const auto report = file.report();
  CHECK(report.file_bytes == saved.report.file_bytes);
  REQUIRE(report.tensors.size() == saved.report.tensors.size());
  for (size_t i = 0; i < report.tensors.size(); ++i) {
    CHECK(report.tensors[i].name == saved.report.tensors[i].name);
    CHECK(report.tensors[i].kind == saved.report.tensors[i].kind);
    CHECK(report.tensors[i].bytes == saved.report.tensors[i].bytes);
  }
  auto* fc1 = net->named_children()["fc1"]->as<deepcomp::nn::SharedLinearImpl>();
  CHECK(torch::equal(file.dense()["fc1.weight"], fc1->weight().detach()));
  const auto parts = file.state({"fc1.codebook", "fc1.indices", "fc1.mask", "fc1.bias", "conv.codebook",
                                 "conv.indices", "conv.mask", "conv.bias", "fc2.weight", "fc2.mask", "fc3.weight",
                                 "fc3.bias", "fc2.bias"});
  const auto original = state_of(*net);
  for (const auto& [name, tensor] : parts) CHECK(torch::equal(tensor, original.at(name).cpu()));
  CHECK_THROWS_WITH(file.state({"fc1.weight"}), Catch::Contains("does not match"));
}

TEST_CASE("a DczFile refuses a file whose tensors decode past max_bytes", "[io][errors]") {
  torch::manual_seed(45);
  PlainNet plain;
  const SavedFile saved(*plain, "io_limit.dcz");
  const int64_t decoded = deepcomp::DczFile(saved.path).report().dense_bytes;  // fp32 here: the dense bytes
  CHECK_THROWS_AS(deepcomp::DczFile(saved.path, decoded - 1), deepcomp::FormatError);
  CHECK_THROWS_WITH(deepcomp::DczFile(saved.path, decoded - 1), Catch::Contains("decoding limit"));
  CHECK(deepcomp::DczFile(saved.path, decoded).report().tensors.size() == saved.report.tensors.size());
  CHECK(deepcomp::default_max_decoded_bytes(1000) == int64_t{1} << 30);
  CHECK(deepcomp::default_max_decoded_bytes(int64_t{1} << 30) == int64_t{256} << 30);
}
