#include <deepcomp/calibration.h>

#include "check.h"

namespace deepcomp {
namespace {

const LayerKind& kind_named(const std::string& kind) {
  const auto* found = find_layer_kind(kind);
  DEEPCOMP_CHECK_VALUE(found != nullptr, "calibration: unknown layer kind '", kind, "'");
  return *found;
}

// Where the input's features are: a convolution's channels are dimension 1 of a batch, 0 of one sample.
int64_t channel_dim(at::IntArrayRef weight_shape, const torch::Tensor& input) {
  const auto rank = static_cast<int64_t>(weight_shape.size());
  DEEPCOMP_CHECK_VALUE(input.dim() == rank || input.dim() == rank - 1, "calibration: a convolution with weight shape ",
                       weight_shape, " takes inputs of ", rank - 1, " or ", rank, " dimensions, got ", input.sizes());
  return input.dim() == rank ? 1 : 0;
}

}  // namespace

InputMoments::InputMoments(torch::Tensor sum_sq, int64_t samples) : samples_(samples) {
  DEEPCOMP_CHECK_VALUE(samples >= 0, "calibration: samples must be >= 0, got ", samples);
  if (sum_sq.defined()) {
    DEEPCOMP_CHECK_VALUE(sum_sq.dim() == 1 && sum_sq.is_floating_point(),
                         "calibration: the sums of squares are a 1-D floating-point tensor, got ", sum_sq.sizes());
    sum_sq_ = sum_sq.detach().to(torch::kCPU, torch::kDouble).clone();
  }
}

void InputMoments::add(const std::string& kind, at::IntArrayRef weight_shape, const torch::Tensor& input) {
  torch::NoGradGuard no_grad;
  torch::Tensor sum_sq;
  int64_t samples = 0;
  const InputLayout layout = kind_named(kind).input;
  switch (layout) {
    case InputLayout::rows: {
      DEEPCOMP_CHECK_VALUE(!input.is_floating_point() && !input.is_complex(),
                           "calibration: an embedding's input holds indices, got ", input.scalar_type());
      const auto flat = input.reshape(-1).to(torch::kCPU, torch::kLong);
      DEEPCOMP_CHECK_VALUE(flat.numel() == 0 || (flat.min().item<int64_t>() >= 0 &&
                                                 flat.max().item<int64_t>() < weight_shape[0]),
                           "calibration: an embedding of ", weight_shape[0], " rows got an index out of range");
      sum_sq = torch::bincount(flat, {}, weight_shape[0]).to(torch::kDouble);
      samples = flat.numel();
      break;
    }
    case InputLayout::columns: {
      DEEPCOMP_CHECK_VALUE(input.dim() >= 1 && input.size(-1) == weight_shape[1], "calibration: a linear layer with ",
                           weight_shape[1], " inputs got an input of shape ", input.sizes());
      const auto x = input.detach().to(torch::kDouble).reshape({-1, weight_shape[1]});
      sum_sq = x.square().sum(0).cpu();
      samples = x.size(0);
      break;
    }
    case InputLayout::channels:
    case InputLayout::transposed_channels: {
      const int64_t dim = channel_dim(weight_shape, input);
      const int64_t channels = input.size(dim);
      const bool fits = layout == InputLayout::channels ? channels % weight_shape[1] == 0 : channels == weight_shape[0];
      DEEPCOMP_CHECK_VALUE(fits, "calibration: a ", kind, " with weight shape ", weight_shape,
                           " cannot take an input of shape ", input.sizes());
      const auto x = input.detach().to(torch::kDouble).movedim(dim, 0).reshape({channels, -1});
      sum_sq = x.square().sum(1).cpu();
      samples = x.size(1);
      break;
    }
  }
  if (!sum_sq_.defined()) {
    sum_sq_ = sum_sq;
  } else {
    DEEPCOMP_CHECK_VALUE(sum_sq_.sizes() == sum_sq.sizes(), "calibration: ", sum_sq.numel(),
                         " input features now, ", sum_sq_.numel(), " before");
    sum_sq_ += sum_sq;
  }
  samples_ += samples;
}

void InputMoments::merge(const InputMoments& other) {
  if (!other.sum_sq_.defined()) return;
  if (!sum_sq_.defined()) {
    *this = other;
    return;
  }
  DEEPCOMP_CHECK_VALUE(sum_sq_.sizes() == other.sum_sq_.sizes(), "calibration: cannot merge the moments of ",
                       other.sum_sq_.numel(), " input features into those of ", sum_sq_.numel());
  sum_sq_ = sum_sq_ + other.sum_sq_;
  samples_ += other.samples_;
}

torch::Tensor InputMoments::mean_square() const {
  if (!sum_sq_.defined()) return torch::empty({0}, torch::kDouble);
  return sum_sq_ / static_cast<double>(std::max<int64_t>(1, samples_));
}

torch::Tensor weight_input_moments(const ModuleEntry& layer, const Calibration& calibration, const std::string& caller) {
  const auto found = calibration.find(layer.name);
  DEEPCOMP_CHECK_VALUE(found != calibration.end() && found->second.samples() > 0, caller, ": layer '", layer.name,
                       "' has no calibration statistics (it did not run while they were gathered, or was not asked "
                       "for)");
  const auto moments = found->second.mean_square();
  const auto shape = layer.weight.sizes();
  const auto rank = static_cast<int64_t>(shape.size());
  std::vector<int64_t> broadcast(rank, 1);  // the weight's shape with 1 where the moments do not vary
  torch::Tensor per_weight;
  const auto expect = [&](int64_t features) {
    DEEPCOMP_CHECK_VALUE(moments.numel() == features, caller, ": layer '", layer.name, "' has weight shape ", shape,
                         " but calibration statistics of ", moments.numel(), " input features");
  };
  switch (find_layer_kind(layer.kind)->input) {
    case InputLayout::columns:
      expect(shape[1]);
      broadcast[1] = shape[1];
      per_weight = moments.view(broadcast);
      break;
    case InputLayout::rows:
    case InputLayout::transposed_channels:
      expect(shape[0]);
      broadcast[0] = shape[0];
      per_weight = moments.view(broadcast);
      break;
    case InputLayout::channels: {
      // weight[o, j] multiplies input channel group(o) · (in / groups) + j
      const int64_t per_group = shape[1];
      DEEPCOMP_CHECK_VALUE(moments.numel() % per_group == 0 && shape[0] % (moments.numel() / per_group) == 0, caller,
                           ": layer '", layer.name, "' has weight shape ", shape, " but calibration statistics of ",
                           moments.numel(), " input channels");
      const int64_t groups = moments.numel() / per_group;
      broadcast[0] = shape[0];
      broadcast[1] = per_group;
      per_weight = moments.view({groups, 1, per_group}).expand({groups, shape[0] / groups, per_group}).reshape(broadcast);
      break;
    }
  }
  return per_weight.to(layer.weight.device(), layer.weight.scalar_type() == torch::kDouble ? torch::kDouble
                                                                                            : torch::kFloat);
}

}  // namespace deepcomp
