// deepcomp::to_plain: every deepcomp layer of a LibTorch model back to the torch layer it stands for.
#pragma once

#include <torch/nn/module.h>

namespace deepcomp {

// MaskedLinear, SharedLinear and CompressedLinear become torch::nn::Linear, MaskedConv2d and
// SharedConv2d torch::nn::Conv2d, each with its dense weight (decoded; exactly 0 where pruned), a copy
// of its bias, its options, device, dtype and training mode; in place (replace_module in the parents:
// a forward calls its layers through deepcomp::nn::forward_child), returning model. The inverse of
// loading a .dcz file into deepcomp's layers; Python's deepcomp.to_plain. Throws c10::TypeError, before
// anything changes, when the model itself is such a layer or one is held by a torch::nn::Sequential,
// ModuleList or ModuleDict (which call their own list of modules).
torch::nn::Module& to_plain(torch::nn::Module& model);

}  // namespace deepcomp
