// Iterative pruning in a LibTorch training loop: an MLP of MaskedLinear layers learns a synthetic
// regression task, is pruned to 10% of its weights in three prune → retrain rounds, printing the loss,
// then saved to a .dcz file (Huffman-coded gaps and the kept values) and loaded into a fresh MLP.
#include <deepcomp/deepcomp.h>
#include <torch/torch.h>

#include <filesystem>
#include <iostream>

namespace {

struct MlpImpl : torch::nn::Module {
  MlpImpl()
      : fc1(register_module("fc1", deepcomp::nn::MaskedLinear(32, 256))),
        fc2(register_module("fc2", deepcomp::nn::MaskedLinear(256, 256))),
        fc3(register_module("fc3", deepcomp::nn::MaskedLinear(256, 1))) {}
  torch::Tensor forward(const torch::Tensor& x) {
    return fc3(torch::relu(fc2(torch::relu(fc1(x)))));
  }
  deepcomp::nn::MaskedLinear fc1, fc2, fc3;
};
TORCH_MODULE(Mlp);

double train(Mlp& model, const torch::Tensor& x, const torch::Tensor& y, int steps) {
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-3));
  double loss_value = 0;
  for (int step = 0; step < steps; ++step) {
    optimizer.zero_grad();
    const auto loss = torch::mse_loss(model->forward(x), y);
    loss.backward();
    optimizer.step();
    deepcomp::enforce_masks(*model);  // Adam's state may push pruned weights off zero
    loss_value = loss.item<double>();
  }
  return loss_value;
}

}  // namespace

int main() {
  torch::manual_seed(0);
  const auto x = torch::randn({2048, 32});
  const auto y = torch::sin(x.sum(1, true)) + 0.1 * x.slice(1, 0, 1);
  Mlp model;
  std::cout << "dense loss " << train(model, x, y, 300) << "\n";
  // Three prune → retrain rounds toward 90% sparsity (the schedule's step() ends each epoch).
  deepcomp::PruningSchedule schedule(*model, {.sparsity = 0.9}, {.steps = 3});
  while (!schedule.done()) {
    const auto report = schedule.step();
    std::cout << "pruned to " << report->total_kept() << "/" << report->total_weights()
              << " weights kept, retrained loss " << train(model, x, y, 150) << "\n";
    if (schedule.done()) std::cout << *report;
  }
  const auto path = (std::filesystem::temp_directory_path() / "prune_mlp.dcz").string();
  std::cout << deepcomp::save(*model, path);
  Mlp reloaded;
  deepcomp::load(path, *reloaded);
  const auto loss = [&](Mlp& mlp) { return torch::mse_loss(mlp->forward(x), y).item<double>(); };
  std::cout << "saved " << path << "; loss " << loss(model) << ", reloaded " << loss(reloaded) << "\n";
  std::filesystem::remove(path);
  return loss(reloaded) == loss(model) ? 0 : 1;
}
