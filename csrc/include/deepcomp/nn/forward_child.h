// deepcomp::nn::forward_child: calls a layer by the name it is registered under in its parent,
// whatever deepcomp has made of it.
//
// C++ modules hold their children by type, and deepcomp::quantize puts a SharedLinear /
// SharedConv2d / ... in the parent in place of each layer (torch::nn::Module::replace_module), so a
// forward that calls a typed member (`fc1(x)`) keeps calling the old layer afterwards. A forward
// written with forward_child(*this, "fc1", x) calls the registered child instead, so the same model
// trains dense, pruned and quantized, and a copy built with plain torch::nn::Linear layers can load
// its .dcz file:
//
//   struct NetImpl : torch::nn::Module {
//     NetImpl() { register_module("fc1", deepcomp::nn::MaskedLinear(784, 300)); ... }
//     torch::Tensor forward(torch::Tensor x) {
//       return deepcomp::nn::forward_child(*this, "fc2", torch::relu(deepcomp::nn::forward_child(*this, "fc1", x)));
//     }
//   };
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <string>

namespace deepcomp::nn {

// The forward of parent's direct child `name`: torch::nn::Linear or Conv2d, or deepcomp::nn::
// MaskedLinear, MaskedConv2d, SharedLinear or SharedConv2d. input and output shapes are the
// layer's (Linear: (*, in_features) -> (*, out_features); Conv2d: (N, C_in, H, W) or (C_in, H, W)
// -> (N, C_out, H_out, W_out) or (C_out, H_out, W_out)).
// Throws c10::ValueError when parent has no child `name` (naming those it has), and c10::TypeError
// naming the child and its type when the child is of another type.
torch::Tensor forward_child(torch::nn::Module& parent, const std::string& name, const torch::Tensor& input);

}  // namespace deepcomp::nn
