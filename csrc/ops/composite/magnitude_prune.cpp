// One magnitude-pruning step (Deep Compression, stage 1): the new mask of a layer's weight.
// Device-generic (ATen reductions and sorts), so it is registered once as a composite kernel.
#include <torch/library.h>

#include <cmath>

#include "check.h"
#include "ops/checks.h"

namespace deepcomp::ops {
namespace {

// Keep |w| >= sensitivity × std(survivors): the paper's rule, with the spread of the weights the
// layer still has, so repeating a step with retraining in between prunes harder.
at::Tensor prune_by_sensitivity(const at::Tensor& weight, const at::Tensor& mask, const at::Tensor& survivors,
                                double sensitivity) {
  DEEPCOMP_CHECK_VALUE(std::isfinite(sensitivity) && sensitivity >= 0, "sensitivity must be a finite number >= 0, got ",
                       sensitivity);
  if (survivors.numel() < 2) return mask.clone();  // no spread to measure
  const double threshold = sensitivity * survivors.to(at::kDouble).std().item<double>();
  return at::logical_and(mask, weight.abs() >= threshold);
}

// Drop the smallest-|w| survivors until floor(sparsity × numel) weights are pruned in all; among
// survivors of equal |w| the first in position go first, so the result is deterministic. O(n): a
// selection of the threshold (kthvalue), not a sort.
at::Tensor prune_by_sparsity(const at::Tensor& mask, const at::Tensor& survivors, double sparsity) {
  DEEPCOMP_CHECK_VALUE(std::isfinite(sparsity) && sparsity >= 0 && sparsity < 1, "sparsity must be in [0, 1), got ",
                       sparsity);
  const int64_t n = mask.numel();
  const auto target_pruned = static_cast<int64_t>(std::floor(sparsity * static_cast<double>(n)));
  const int64_t extra = target_pruned - (n - survivors.numel());
  if (extra <= 0) return mask.clone();
  const auto magnitude = survivors.abs();
  const auto threshold = std::get<0>(magnitude.kthvalue(extra));
  const auto below = magnitude < threshold, tied = magnitude == threshold;
  const int64_t tied_to_drop = extra - below.sum().item<int64_t>();
  const auto drop = below.logical_or(tied.logical_and(tied.cumsum(0) <= tied_to_drop));
  auto new_mask = mask.contiguous().clone();
  new_mask.view({-1}).masked_scatter_(mask.contiguous().view({-1}), drop.logical_not());
  return new_mask;
}

at::Tensor magnitude_prune(const at::Tensor& weight, const at::Tensor& mask, std::optional<double> sensitivity,
                           std::optional<double> sparsity) {
  check_weight_and_mask("magnitude_prune", weight, mask);
  DEEPCOMP_CHECK_VALUE(sensitivity.has_value() != sparsity.has_value(),
                       "magnitude_prune: give exactly one of sensitivity or sparsity");
  const auto w = weight.detach();
  const auto survivors = w.masked_select(mask);
  const int64_t bad = survivors.numel() - at::isfinite(survivors).sum().item<int64_t>();
  DEEPCOMP_CHECK_VALUE(bad == 0, "the weights hold ", bad, " NaN/Inf value(s) among ", survivors.numel(),
                       " unpruned; pruning by magnitude needs finite weights");
  return sensitivity ? prune_by_sensitivity(w, mask, survivors, *sensitivity)
                     : prune_by_sparsity(mask, survivors, *sparsity);
}

}  // namespace

TORCH_LIBRARY_IMPL(deepcomp, CompositeExplicitAutograd, m) { m.impl("magnitude_prune", &magnitude_prune); }

}  // namespace deepcomp::ops
