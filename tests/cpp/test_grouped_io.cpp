// save and load of a model quantized with per-group codebooks: the format version written, the
// file report, and bit-exact round trips into shared and plain layers.
#include <deepcomp/deepcomp.h>

#include "grouped_reference.h"
#include "helpers.h"
#include "saved_file.h"

using deepcomp::testing::grouped_decode_reference;
using deepcomp::testing::SavedFile;
using deepcomp::testing::check_same_state;

namespace {

// conv: 4 output channels; fc1: 64 rows; fc2: 3 rows. Masked layers to quantize, or plain ones to
// load the decoded weights into.
struct NetImpl : torch::nn::Module {
  explicit NetImpl(bool plain = false) {
    const auto conv_options = torch::nn::Conv2dOptions(1, 4, 3);
    if (plain) {
      register_module("conv", torch::nn::Conv2d(conv_options));
      register_module("fc1", torch::nn::Linear(144, 64));
    } else {
      register_module("conv", deepcomp::nn::MaskedConv2d(conv_options));
      register_module("fc1", deepcomp::nn::MaskedLinear(144, 64));
    }
    register_module("fc2", torch::nn::Linear(64, 3));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    using deepcomp::nn::forward_child;
    const auto features = torch::relu(forward_child(*this, "conv", x)).flatten(1);
    return forward_child(*this, "fc2", torch::relu(forward_child(*this, "fc1", features)));
  }
};
TORCH_MODULE(Net);

// fc1 pruned by half, then every layer quantized to 4 bits with these options' group_size.
Net quantized(std::optional<int64_t> group_size) {
  Net net;
  deepcomp::prune(*net, {.sparsity = 0.5, .layers = std::vector<std::string>{"fc1"}});
  deepcomp::quantize(*net, {.bits = int64_t{4}, .group_size = group_size});
  return net;
}

const deepcomp::TensorFileStats& stats_of(const deepcomp::FileReport& report, const std::string& name) {
  for (const auto& tensor : report.tensors) {
    if (tensor.name == name) return tensor;
  }
  FAIL("no tensor " << name << " in the file");
  throw;
}

}  // namespace

TEST_CASE("a model with per-group codebooks saves as version 3 and loads back exactly", "[io][groups]") {
  torch::manual_seed(100);
  auto net = quantized(16);
  const SavedFile file(*net, "grouped_io_exact.dcz");
  CHECK(file.version() == 3);

  const auto& fc1 = stats_of(file.report, "fc1.weight");
  CHECK(fc1.kind == "sparse_codebook");
  CHECK(fc1.codebook_groups == 4);
  CHECK(fc1.codebook_bytes == 4 * 16 * 4);
  CHECK(fc1.bytes_before_huffman ==
        fc1.codebook_bytes + fc1.value_bytes + fc1.index_bytes_before_huffman + fc1.gap_bytes_before_huffman);
  const auto& conv = stats_of(file.report, "conv.weight");
  CHECK(conv.kind == "dense_codebook");
  CHECK(conv.codebook_groups == 1);
  CHECK(conv.codebook_bytes == 16 * 4);
  CHECK(stats_of(file.report, "fc2.weight").codebook_groups == 1);
  CHECK(stats_of(file.report, "fc1.bias").codebook_groups == 0);  // not a codebook kind
  CHECK(deepcomp::inspect(file.path).tensors.size() == file.report.tensors.size());
  CHECK(stats_of(deepcomp::inspect(file.path), "fc1.weight").codebook_groups == 4);
  CHECK_THAT(file.report.table(), Catch::Contains("(4 codebooks)"));

  // A fresh model made of the same layer types and shapes takes every tensor bit for bit.
  torch::manual_seed(101);
  auto fresh = quantized(16);
  deepcomp::load(file.path, *fresh);
  check_same_state(*net, *fresh);
  CHECK(fresh->named_parameters()["fc1.codebook"].sizes() == torch::IntArrayRef({4, 16}));
  const auto x = torch::randn({2, 1, 8, 8});
  CHECK(torch::equal(fresh->forward(x), net->forward(x)));
}

TEST_CASE("a file with per-group codebooks loads decoded into plain layers and a dense state dict", "[io][groups]") {
  torch::manual_seed(102);
  // group_size 16: 4 groups of 16 rows; 24: 3 groups of 22, 21 and 21 rows, and the conv's 4
  // channels in 2 groups.
  for (const int64_t group_size : {16, 24, 3}) {
    auto net = quantized(group_size);
    const SavedFile file(*net, "grouped_io_plain.dcz");
    INFO("group_size " << group_size);
    Net plain(true);
    deepcomp::load(file.path, *plain);
    const auto dense = deepcomp::load(file.path);
    for (const std::string name : {"conv", "fc1", "fc2"}) {
      const auto& layer = net->named_children()[name];
      const auto codebook = layer->named_parameters(false)["codebook"].detach();
      const auto decoded = grouped_decode_reference(layer->named_buffers(false)["indices"],
                                                    layer->named_buffers(false)["mask"], codebook);
      INFO(name << ", codebook " << codebook.sizes());
      CHECK(torch::equal(plain->named_children()[name]->named_parameters(false)["weight"], decoded));
      CHECK(torch::equal(dense[name + ".weight"], decoded));
    }
    const auto x = torch::randn({2, 1, 8, 8});
    CHECK(torch::allclose(plain->forward(x), net->forward(x), 1e-4, 1e-5));
  }
}

TEST_CASE("files without per-group codebooks stay at version 2", "[io][groups]") {
  torch::manual_seed(103);
  const SavedFile ungrouped(*quantized(std::nullopt), "grouped_io_ungrouped.dcz");
  CHECK(ungrouped.version() == 2);
  CHECK(stats_of(ungrouped.report, "fc1.weight").codebook_groups == 1);
  // group_size no smaller than any layer's rows: one codebook each.
  const SavedFile wide(*quantized(64), "grouped_io_wide.dcz");
  CHECK(wide.version() == 2);
}

TEST_CASE("load names a codebook whose groups the model does not have", "[io][groups][errors]") {
  torch::manual_seed(104);
  const SavedFile file(*quantized(16), "grouped_io_mismatch.dcz");
  auto ungrouped = quantized(std::nullopt);
  CHECK_THROWS_AS(deepcomp::load(file.path, *ungrouped), c10::ValueError);
  CHECK_THROWS_WITH(deepcomp::load(file.path, *ungrouped),
                    Catch::Contains("'fc1.codebook' has shape [16] in the model and [4, 16]"));
}
