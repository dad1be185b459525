// The entry point of compressed_linear, shared by the CPU and CUDA twins: checks and layout here,
// each twin supplies only the kernel over a contiguous (batch, in_features) input.
//
// A compressed weight (out_features, in_features) keeps only its unpruned entries, row by row:
// row r's are entries[row_ptr[r], row_ptr[r + 1]), each one int32 (column << 8 | codebook index),
// in ascending column order. Made by compressed_linear_pack; 4 bytes per kept weight, read once.
// A grouped codebook (groups, k) decodes row r with codebook[r · groups / out_features]
// (ops/codebook_layout.h).
#pragma once

#include <ATen/ATen.h>

#include "check.h"
#include "ops/checks.h"
#include "ops/codebook_layout.h"

namespace deepcomp::ops {

// Columns fit the 23 bits above the index, so entries stay non-negative int32.
constexpr int64_t kCompressedMaxInFeatures = int64_t{1} << 23;

// out (batch, out_features) = input (batch, in_features) · Wᵀ + bias (undefined: none). Returns
// false when an entry's column or index, or row_ptr, is out of range (the CPU twin; the CUDA twin
// writes NaN into the rows concerned instead of stalling the stream on a check).
using CompressedLinearInto = bool (*)(at::Tensor& out, const at::Tensor& input, const at::Tensor& row_ptr,
                                      const at::Tensor& entries, const at::Tensor& codebook, const at::Tensor& bias);

inline void check_compressed_linear(const at::Tensor& input, const at::Tensor& row_ptr, const at::Tensor& entries,
                                    const at::Tensor& codebook, const std::optional<at::Tensor>& bias,
                                    const char* op = "compressed_linear") {
  DEEPCOMP_CHECK(input.is_floating_point() && input.dim() >= 1, op,
                 ": input must be a floating-point tensor (*, in_features), got ", input.scalar_type(), " of shape ",
                 input.sizes());
  DEEPCOMP_CHECK(input.size(-1) < kCompressedMaxInFeatures, op, ": in_features must be < 2^23, got ", input.size(-1));
  DEEPCOMP_CHECK(row_ptr.scalar_type() == at::kLong && row_ptr.dim() == 1 && row_ptr.numel() >= 1, op,
                 ": row_ptr must be a 1-D int64 tensor of out_features + 1 offsets, got ", row_ptr.scalar_type(),
                 " of shape ", row_ptr.sizes());
  DEEPCOMP_CHECK(entries.scalar_type() == at::kInt && entries.dim() == 1, op,
                 ": entries must be a 1-D int32 tensor (column << 8 | codebook index), got ", entries.scalar_type(),
                 " of shape ", entries.sizes());
  check_codebook(op, codebook, row_ptr.numel() - 1);
  DEEPCOMP_CHECK(codebook_codes(codebook) <= 256, op, ": a codebook has at most 256 centroids per group, got shape ",
                 codebook.sizes());
  DEEPCOMP_CHECK(codebook.scalar_type() == input.scalar_type(), op, ": codebook dtype ", codebook.scalar_type(),
                 " differs from input dtype ", input.scalar_type());
  const bool has_bias = bias.has_value() && bias->defined();
  if (has_bias) {
    DEEPCOMP_CHECK(bias->dim() == 1 && bias->numel() == row_ptr.numel() - 1, op, ": bias must be (out_features) = (",
                   row_ptr.numel() - 1, "), got shape ", bias->sizes());
    DEEPCOMP_CHECK(bias->scalar_type() == input.scalar_type(), op, ": bias dtype ", bias->scalar_type(),
                   " differs from input dtype ", input.scalar_type());
  }
  for (const auto* tensor : {&row_ptr, &entries, &codebook}) {
    DEEPCOMP_CHECK(tensor->device() == input.device(), op, ": input is on ", input.device(),
                   " but row_ptr, entries, codebook and bias must be on the same device; found one on ",
                   tensor->device());
  }
  DEEPCOMP_CHECK(!has_bias || bias->device() == input.device(), op, ": bias is on ", bias->device(), ", input on ",
                 input.device());
}

template <CompressedLinearInto into>
at::Tensor compressed_linear_entry(const at::Tensor& input, const at::Tensor& row_ptr, const at::Tensor& entries,
                                   const at::Tensor& codebook, const std::optional<at::Tensor>& bias) {
  check_compressed_linear(input, row_ptr, entries, codebook, bias);
  const int64_t out_features = row_ptr.numel() - 1;
  // The leading dimensions' product, not -1: that would be ambiguous for in_features = 0.
  const int64_t batch = c10::multiply_integers(input.sizes().slice(0, input.dim() - 1));
  const auto x = input.reshape({batch, input.size(-1)}).contiguous();
  auto out = at::empty({x.size(0), out_features}, x.options());
  const auto b = bias.has_value() && bias->defined() ? bias->contiguous() : at::Tensor();
  DEEPCOMP_CHECK(into(out, x, row_ptr.contiguous(), entries.contiguous(), codebook.contiguous(), b),
                 "compressed_linear: malformed compressed weight: row_ptr must rise from 0 to entries.numel() = ",
                 entries.numel(), ", and every entry's column must be < in_features = ", input.size(-1),
                 " and its index < the codebook's ", codebook_codes(codebook), " centroids");
  auto shape = input.sizes().vec();
  shape.back() = out_features;
  return out.view(shape);
}

// The codebook's gradient for compressed_linear's weight, without decoding it: grad_codebook[i] =
// Σ over the kept entries (r, c, i) of grad_output[:, r] · input[:, c] (a sampled dense-dense product
// reduced by cluster), into `out` (num_codes, input's dtype). grad (batch, out_features) and input
// (batch, in_features) are contiguous. Returns false when an entry's column or index, or row_ptr, is
// out of range (the CPU twin; the CUDA twin makes the result NaN instead of stalling the stream).
using CompressedLinearCodebookGradInto = bool (*)(at::Tensor& out, const at::Tensor& grad, const at::Tensor& input,
                                                   const at::Tensor& row_ptr, const at::Tensor& entries);

template <CompressedLinearCodebookGradInto into>
at::Tensor compressed_linear_codebook_grad_entry(const at::Tensor& grad_output, const at::Tensor& input,
                                                 const at::Tensor& row_ptr, const at::Tensor& entries,
                                                 int64_t num_codes) {
  constexpr const char* op = "compressed_linear_codebook_grad";
  DEEPCOMP_CHECK(num_codes >= 1 && num_codes <= 256, op, ": num_codes must be in 1..256, got ", num_codes);
  DEEPCOMP_CHECK(grad_output.is_floating_point() && grad_output.dim() >= 1, op,
                 ": grad_output must be a floating-point tensor (*, out_features), got ", grad_output.scalar_type(),
                 " of shape ", grad_output.sizes());
  DEEPCOMP_CHECK(grad_output.scalar_type() == input.scalar_type(), op, ": grad_output dtype ",
                 grad_output.scalar_type(), " differs from input dtype ", input.scalar_type());
  // The checks compressed_linear makes of input, row_ptr and entries; a stand-in codebook of input's dtype.
  const auto codebook = at::empty({num_codes}, input.options());
  check_compressed_linear(input, row_ptr, entries, codebook, std::nullopt, op);
  const int64_t out_features = row_ptr.numel() - 1;
  DEEPCOMP_CHECK(grad_output.size(-1) == out_features && grad_output.sizes().slice(0, grad_output.dim() - 1) ==
                                                             input.sizes().slice(0, input.dim() - 1),
                 op, ": grad_output must be (*, out_features) = input's leading dimensions and ", out_features,
                 ", got ", grad_output.sizes(), " for input ", input.sizes());
  DEEPCOMP_CHECK(grad_output.device() == input.device(), op, ": grad_output is on ", grad_output.device(),
                 ", input on ", input.device());
  const int64_t batch = c10::multiply_integers(input.sizes().slice(0, input.dim() - 1));
  auto out = at::zeros({num_codes}, input.options());
  DEEPCOMP_CHECK(into(out, grad_output.reshape({batch, out_features}).contiguous(),
                      input.reshape({batch, input.size(-1)}).contiguous(), row_ptr.contiguous(), entries.contiguous()),
                 op, ": malformed compressed weight: row_ptr must rise from 0 to entries.numel() = ", entries.numel(),
                 ", and every entry's column must be < in_features = ", input.size(-1), " and its index < num_codes = ",
                 num_codes);
  return out;
}

}  // namespace deepcomp::ops
