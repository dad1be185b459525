// torch::nn::MultiheadAttention's packed in_proj_weight through the C++ pipeline: prune (pruned weights
// exactly 0, their gradient 0), quantize (per-cluster codebook gradients), out_proj in a second call,
// clone, save/load under torch's names, and to_plain. The reference is torch's own attention with the
// weights set by hand.
#include "helpers.h"
#include "saved_file.h"
#include <deepcomp/deepcomp.h>
#include <deepcomp/nn/attention.h>

namespace {

using deepcomp::nn::MaskedMultiheadAttention;
using deepcomp::nn::SharedMultiheadAttention;
using deepcomp::testing::relative_error;

// Self-attention over (seq, batch, 16) inputs, then a linear head; the attention layer may be torch's or a twin.
struct EncoderImpl : torch::nn::Module {
  EncoderImpl() {
    const auto options = torch::nn::MultiheadAttentionOptions(16, 4).add_bias_kv(true);
    register_module("attn", torch::nn::MultiheadAttention(options));
    register_module("head", torch::nn::Linear(16, 3));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto& attn = *named_children()["attn"];
    torch::Tensor y;
    if (auto* plain = attn.as<torch::nn::MultiheadAttention>()) {
      y = std::get<0>(plain->forward(x, x, x));
    } else if (auto* masked = attn.as<MaskedMultiheadAttention>()) {
      y = std::get<0>(masked->forward(x, x, x));
    } else {
      y = std::get<0>(attn.as<SharedMultiheadAttention>()->forward(x, x, x));
    }
    return deepcomp::nn::forward_child(*this, "head", y);
  }
};
TORCH_MODULE(Encoder);

// The model's attention as torch's own layer with `in_proj_weight` (and its twin's other tensors).
torch::Tensor plain_reference(const deepcomp::nn::detail::AttentionTwin& twin, const torch::Tensor& in_proj_weight,
                              const torch::Tensor& x, torch::Tensor* grad_in_proj = nullptr) {
  auto plain = twin.make_plain();
  {
    torch::NoGradGuard no_grad;
    plain->in_proj_weight.copy_(in_proj_weight);
  }
  const auto output = std::get<0>(plain->forward(x, x, x));
  if (grad_in_proj) {
    const auto upstream = torch::linspace(-1, 1, output.numel()).view_as(output);
    *grad_in_proj = torch::autograd::grad({output}, {plain->in_proj_weight}, {upstream})[0];
  }
  return output.detach();
}

}  // namespace

TEST_CASE("MultiheadAttention's in_proj_weight is pruned, retrained and quantized with its guarantees",
          "[nn][attention]") {
  torch::manual_seed(11);
  Encoder model;
  const auto x = torch::randn({5, 2, 16});
  auto* dense = model->named_children()["attn"]->as<torch::nn::MultiheadAttention>();
  const auto dense_weight = dense->in_proj_weight;

  const auto pruned = deepcomp::prune(*model, {.sparsity = 0.6});
  REQUIRE(pruned.layers.size() == 2);  // attn and head; out_proj is computed by torch's attention through its member
  CHECK(pruned.layers[0].kind == "MultiheadAttention");
  REQUIRE(pruned.skipped.size() == 1);
  CHECK(pruned.skipped[0].name == "attn.out_proj");
  CHECK(pruned.skipped[0].reason.find("prune or quantize the attention layer first") != std::string::npos);
  auto* masked = model->named_children()["attn"]->as<MaskedMultiheadAttention>();
  REQUIRE(masked != nullptr);
  CHECK(masked->in_proj_weight.is_same(dense_weight));
  CHECK((masked->in_proj_weight.masked_select(~masked->in_proj_mask) == 0).all().item<bool>());
  auto output = std::get<0>(masked->forward(x, x, x));
  torch::Tensor grad_reference;
  CHECK(relative_error(output, plain_reference(*masked, masked->in_proj_weight * masked->in_proj_mask, x,
                                               &grad_reference)) < 1e-6);
  auto upstream = torch::linspace(-1, 1, output.numel()).view_as(output);
  const auto grad = torch::autograd::grad({output}, {masked->in_proj_weight}, {upstream})[0];
  CHECK(relative_error(grad, grad_reference * masked->in_proj_mask) < 1e-6);

  // The twin calls out_proj by name, so a second call prunes it; the forward computes with it masked.
  const auto second = deepcomp::prune(*model, {.sparsity = 0.6, .layers = std::vector<std::string>{"attn.out_proj"}});
  auto* out_proj = masked->named_children()["out_proj"]->as<deepcomp::nn::MaskedLinear>();
  REQUIRE(out_proj != nullptr);
  output = std::get<0>(masked->forward(x, x, x));
  CHECK(relative_error(output, plain_reference(*masked, masked->in_proj_weight, x)) < 1e-6);
  const auto grad_out = torch::autograd::grad({output}, {out_proj->weight}, {upstream})[0];
  CHECK((grad_out.masked_select(~out_proj->mask) == 0).all().item<bool>());

  const auto quantized = deepcomp::quantize(*model, {.bits = deepcomp::LayerBits(3)});
  CHECK(quantized.layers.size() == 3);
  auto* shared = model->named_children()["attn"]->as<SharedMultiheadAttention>();
  REQUIRE(shared != nullptr);
  CHECK(shared->bits() == 3);
  CHECK(torch::equal(shared->in_proj_mask, masked->in_proj_mask));
  CHECK(shared->named_children()["out_proj"]->as<deepcomp::nn::SharedLinear>() != nullptr);
  const auto weight = shared->weight().detach();
  output = std::get<0>(shared->forward(x, x, x));
  CHECK(relative_error(output, plain_reference(*shared, weight, x, &grad_reference)) < 1e-6);
  const auto grad_codebook = torch::autograd::grad({output}, {shared->in_proj_codebook}, {upstream})[0];
  const auto kept = shared->in_proj_mask;
  const auto per_cluster = torch::zeros({8}).index_add_(0, shared->in_proj_indices.masked_select(kept).to(torch::kLong),
                                                      grad_reference.masked_select(kept));
  CHECK(relative_error(grad_codebook, per_cluster) < 1e-5);

  // clone: an independent copy computing the same, out_proj cloned as the shared layer it is
  const auto copy = std::dynamic_pointer_cast<deepcomp::nn::SharedMultiheadAttentionImpl>(shared->clone());
  REQUIRE(copy != nullptr);
  CHECK(!copy->in_proj_codebook.is_same(shared->in_proj_codebook));
  CHECK(copy->named_children()["out_proj"]->as<deepcomp::nn::SharedLinear>() != nullptr);
  CHECK(torch::equal(std::get<0>(copy->forward(x, x, x)), output.detach()));
}

TEST_CASE("MultiheadAttention twins save under torch's names and load into torch's layer", "[nn][attention][io]") {
  torch::manual_seed(12);
  Encoder model;
  const auto x = torch::randn({4, 3, 16});
  deepcomp::prune(*model, {.sparsity = 0.5});
  deepcomp::quantize(*model, {.bits = deepcomp::LayerBits(4), .group_size = int64_t{12}});
  const auto expected = model->forward(x).detach();
  const deepcomp::testing::SavedFile file(*model, "attention.dcz");
  bool found = false;
  for (const auto& tensor : file.report.tensors) {
    if (tensor.name == "attn.in_proj_weight") {
      found = true;
      CHECK(tensor.kind == "sparse_codebook");
      CHECK(tensor.codebook_groups == 4);
    }
  }
  CHECK(found);

  Encoder same;  // the same kinds: every tensor bit for bit
  deepcomp::prune(*same, {.sparsity = 0.5});
  deepcomp::quantize(*same, {.bits = deepcomp::LayerBits(4), .group_size = int64_t{12}});
  deepcomp::load(file.path, *same);
  CHECK(torch::equal(same->forward(x), expected));

  Encoder plain;  // torch's layer: the decoded in_proj_weight under its own name
  deepcomp::load(file.path, *plain);
  CHECK(relative_error(plain->forward(x), expected) < 1e-6);
  deepcomp::to_plain(*same);
  CHECK(same->named_children()["attn"]->as<torch::nn::MultiheadAttention>() != nullptr);
  CHECK(relative_error(same->forward(x), expected) < 1e-6);
}

TEST_CASE("MultiheadAttention with separate projections is refused by its twins", "[nn][attention][errors]") {
  const auto options = torch::nn::MultiheadAttentionOptions(16, 4).kdim(8).vdim(8);
  CHECK_THROWS_WITH(MaskedMultiheadAttention(options), Catch::Contains("kdim and vdim must be embed_dim"));
  CHECK_THROWS_WITH(SharedMultiheadAttention(options), Catch::Contains("separate q, k and v"));
}

TEST_CASE("sensitivity sweeps MultiheadAttention's in_proj_weight, plain and shared, and puts it back",
          "[nn][attention][sensitivity]") {
  torch::manual_seed(13);
  Encoder model;
  const auto x = torch::randn({4, 2, 16});
  const auto reference = model->forward(x).detach();
  const auto error = [&](torch::nn::Module&) { return (model->forward(x) - reference).abs().mean().item<double>(); };
  for (const bool shared : {false, true}) {
    const std::vector<std::string> layers{"attn"};
    if (shared) deepcomp::quantize(*model, {.bits = deepcomp::LayerBits(6), .layers = layers});
    const auto before = deepcomp::testing::state_of(*model);
    deepcomp::SensitivityOptions options{.bits = std::vector<int64_t>{1, 8}, .layers = layers};
    if (shared) options.sparsities = std::nullopt;  // a shared layer has only the bits sweep
    else options.sparsities = std::vector<double>{0.9};
    const auto report = deepcomp::sensitivity(*model, error, options);
    const auto bits = report.curves("quantize").at("attn");
    REQUIRE(bits.size() == 2);
    CHECK(bits[0].second > bits[1].second);  // 1 bit hurts more than 8
    if (!shared) CHECK(report.curves("prune").at("attn")[0].second > 0);
    for (const auto& [name, tensor] : before) CHECK(torch::equal(deepcomp::testing::state_of(*model).at(name), tensor));
  }
}
