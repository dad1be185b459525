// The C++ side of the cross-language .dcz test (tests/python/test_io_cross_language.py).
//   deepcomp_io_peer write PATH   builds the agreed model from a fixed seed, saves it with
//                                 deepcomp::save, prints its state as JSON
//   deepcomp_io_peer read PATH    loads PATH into the agreed model with deepcomp::load, prints
//                                 its state as JSON
//   deepcomp_io_peer report PATH  loads PATH (a dense state) into the agreed plain model, prunes
//                                 (sparsity 0.6) and quantizes it (4 bits for fc2), prints both tables
// The agreed model (a Sequential, as in the Python test): 0 SharedLinear(16, 12, 4 bits, ~30%
// kept), 1 ReLU, 2 MaskedLinear(12, 8, ~40% kept), 3 Linear(8, 4), 4 SharedMultiheadAttention(8
// wide, 2 heads, 4 bits; its out_proj a Linear). The agreed plain model: conv
// Conv2d(3, 4, 3), fc1 Linear(36, 10), fc2 Linear(10, 5), registered in that order.
#include <deepcomp/deepcomp.h>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>

#include <cstdio>
#include <iostream>

namespace {

torch::nn::Sequential agreed_model() {
  const auto mask = torch::rand({12, 16}) < 0.3;
  deepcomp::nn::MaskedLinear masked(12, 8);
  masked->mask.copy_(torch::rand({8, 12}) < 0.4);
  masked->weight.data().mul_(masked->mask);
  return torch::nn::Sequential(
      deepcomp::nn::SharedLinear(torch::nn::LinearOptions(16, 12), torch::randn({12, 16}), mask, torch::randn({12}), 4),
      torch::nn::ReLU(), masked, torch::nn::Linear(8, 4),
      deepcomp::nn::SharedMultiheadAttention(torch::nn::MultiheadAttentionOptions(8, 2), 4));
}

void print_state(const torch::nn::Module& model) {
  std::cout << "{";
  bool first = true;
  auto print = [&](const std::string& name, const torch::Tensor& tensor) {
    const auto values = tensor.detach().to(torch::kDouble).flatten().contiguous();
    std::cout << (first ? "" : ",") << "\n\"" << name << "\": [";
    first = false;
    const auto* data = values.data_ptr<double>();
    for (int64_t i = 0; i < values.numel(); ++i) {
      char cell[40];
      std::snprintf(cell, sizeof cell, "%s%.17g", i ? "," : "", data[i]);
      std::cout << cell;
    }
    std::cout << "]";
  };
  for (const auto& item : model.named_parameters()) print(item.key(), item.value());
  for (const auto& item : model.named_buffers()) print(item.key(), item.value());
  std::cout << "\n}\n";
}

struct PlainImpl : torch::nn::Module {
  PlainImpl() {
    register_module("conv", torch::nn::Conv2d(3, 4, 3));
    register_module("fc1", torch::nn::Linear(36, 10));
    register_module("fc2", torch::nn::Linear(10, 5));
  }
};

int report(const std::string& path) {
  auto model = std::make_shared<PlainImpl>();
  deepcomp::load(path, *model);
  std::cout << deepcomp::prune(*model, {.sparsity = 0.6}) << "\n";
  std::cout << deepcomp::quantize(*model, {.bits = std::map<std::string, int64_t>{{"fc2", 4}}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc == 3 ? argv[1] : "";
  if (command != "write" && command != "read" && command != "report") {
    std::cerr << "usage: deepcomp_io_peer write|read|report PATH\n";
    return 2;
  }
  if (command == "report") return report(argv[2]);
  torch::manual_seed(7);
  auto model = agreed_model();
  if (command == "write") {
    deepcomp::save(*model, argv[2]);
  } else {
    deepcomp::load(argv[2], *model);
  }
  print_state(*model);
  return 0;
}
