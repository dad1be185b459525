// What each layer's inputs look like over a few calibration batches, for the criteria that weigh a
// weight by the inputs it multiplies (compression without retraining):
//   - prune's criterion "activation": drop the smallest |w_ij| · sqrt(E[x_j²]) (the activation-weighted
//     magnitude of Wanda, Sun et al. 2023): a large weight on an input that is always near zero costs
//     little, a small one on a large input costs much;
//   - quantize's importance: k-means weighted by E[x_j²], the output's squared error per unit of a
//     weight's squared error, so centroids sit where the weights that matter are.
// Python's deepcomp.calibrate gathers them with forward hooks; LibTorch modules have no hooks, so a C++
// model calls add() with each layer's input inside its forward.
#pragma once

#include <deepcomp/layers.h>

#include <torch/types.h>

#include <map>
#include <string>

namespace deepcomp {

// The second moments of one layer's input features.
class InputMoments {
 public:
  InputMoments() = default;
  // Counts kept elsewhere (another rank's, a saved calibration's): Σx² per feature and the samples.
  InputMoments(torch::Tensor sum_sq, int64_t samples);
  // Counts `input`, what the forward of a layer of this kind (a layer_kinds() name: "Linear",
  // "MaskedConv2d", ...) and weight shape gets: per input feature (a Linear's last dimension, a
  // convolution's channel, an embedding's row) the sum of x² over every other position; an embedding
  // lookup counts as a one-hot input (1 for the row looked up). c10::ValueError for an input that does
  // not fit the weight.
  void add(const std::string& kind, at::IntArrayRef weight_shape, const torch::Tensor& input);
  // Another layer's (or rank's) counts of the same layer added to these.
  void merge(const InputMoments& other);
  // E[x²] per input feature: float64 on the CPU, empty before anything was added.
  torch::Tensor mean_square() const;
  // The positions counted per feature.
  int64_t samples() const { return samples_; }
  // Σx² per input feature (float64 on the CPU; undefined before anything was added).
  const torch::Tensor& sum_sq() const { return sum_sq_; }

 private:
  torch::Tensor sum_sq_;  // float64, one per input feature
  int64_t samples_ = 0;
};

// By qualified layer name.
using Calibration = std::map<std::string, InputMoments>;

// E[x_j²] of the input feature each weight of `layer` multiplies, broadcastable to its weight (grouped
// convolutions: each output channel's group of input channels). c10::ValueError naming the layer when
// `calibration` has nothing of it.
torch::Tensor weight_input_moments(const ModuleEntry& layer, const Calibration& calibration, const std::string& caller);

}  // namespace deepcomp
