#include <deepcomp/nn/compressed_linear.h>
#include <deepcomp/plain.h>
#include <torch/nn/modules/linear.h>

#include "check.h"
#include "pipeline/cpp_model.h"

namespace deepcomp {
namespace {

// A CompressedLinear's packed rows (row_ptr, entries = column << 8 | index) as a plain Linear.
ModulePtr plain_of_compressed(torch::nn::Module& module) {
  auto* compressed = module.as<nn::CompressedLinearImpl>();
  if (compressed == nullptr) return nullptr;
  const auto& codebook = compressed->codebook;
  auto plain = std::make_shared<torch::nn::LinearImpl>(
      torch::nn::LinearOptions(compressed->in_features, compressed->out_features).bias(compressed->bias.defined()));
  plain->to(codebook.device(), codebook.scalar_type());
  torch::NoGradGuard no_grad;
  const auto rows = torch::repeat_interleave(torch::arange(compressed->out_features, compressed->row_ptr.options()),
                                             compressed->row_ptr.diff());
  const auto entries = compressed->entries.to(torch::kLong);
  plain->weight.zero_();
  plain->weight.index_put_({rows, entries.bitwise_right_shift(8)}, codebook.index_select(0, entries.bitwise_and(0xFF)));
  if (compressed->bias.defined()) plain->bias.copy_(compressed->bias);
  plain->train(compressed->is_training());
  return plain;
}

}  // namespace

torch::nn::Module& to_plain(torch::nn::Module& model) {
  const auto described = describe_model(model);
  std::unordered_map<torch::nn::Module*, ModulePtr> plain;  // all built and checked before any is put in place
  for (size_t i = 0; i < described.modules.size(); ++i) {
    auto& module = *described.modules[i];
    auto twin = plain_twin(module);
    if (!twin) twin = plain_of_compressed(module);
    if (!twin) continue;
    const auto& entry = described.entries[i];
    DEEPCOMP_CHECK_TYPE(entry.fixed_reason.empty(), "deepcomp::to_plain: ",
                        entry.name.empty() ? std::string("the model itself") : "layer '" + entry.name + "'", " (",
                        entry.type, ") ", entry.fixed_reason);
    plain[&module] = twin;
  }
  replace_children(model, plain);
  return model;
}

}  // namespace deepcomp
