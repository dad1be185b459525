// Deep Compression's three stages in a LibTorch program: LeNet-300-100 learns Fashion-MNIST
// (LibTorch's data API over Debian's dataset-fashion-mnist files), is pruned in rounds toward the
// paper's densities (fc1 8 %, fc2 9 %, fc3 26 % kept) with retraining, quantized to 5-bit codebooks
// whose centroids are fine-tuned, and saved as a Huffman-coded .dcz file; that file is loaded into
// a plain copy (torch::nn::Linear layers), whose test accuracy is the last line printed:
//   final test accuracy: 0.8903 (8903/10000)
// The C++ twin of examples/lenet/lenet300.py; the file loads in Python too (deepcomp.load).
//
//   lenet300_fashion_mnist [--epochs 8] [--rounds 4] [--train-limit 10000] [--out lenet300.dcz] ...
#include "fashion_mnist.h"

#include <deepcomp/deepcomp.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using deepcomp::nn::forward_child;

using fashion_mnist::FashionMnist;
using fashion_mnist::kDefaultRoot;

// ---------------------------------------------------------------------------------------------
// LeNet-300-100 (784-300-100-10). Masked: MaskedLinear layers to prune and quantize; plain:
// torch::nn::Linear layers, which the .dcz file loads into. One forward serves both, and the
// quantized model too: forward_child calls whatever layer is registered under a name now.

struct LeNet300Impl : torch::nn::Module {
  explicit LeNet300Impl(bool masked) {
    const struct {
      const char* name;
      int64_t in, out;
    } layers[] = {{"fc1", 784, 300}, {"fc2", 300, 100}, {"fc3", 100, 10}};
    for (const auto& layer : layers) {
      if (masked) {
        register_module(layer.name, deepcomp::nn::MaskedLinear(layer.in, layer.out));
      } else {
        register_module(layer.name, torch::nn::Linear(layer.in, layer.out));
      }
    }
  }
  torch::Tensor forward(const torch::Tensor& images) {
    auto x = torch::relu(forward_child(*this, "fc1", images.flatten(1)));
    x = torch::relu(forward_child(*this, "fc2", x));
    return forward_child(*this, "fc3", x);
  }
};
TORCH_MODULE(LeNet300);

// The paper's fraction of weights to prune, per layer (Table 2: 8 %, 9 %, 26 % kept).
const std::map<std::string, double> kSparsity{{"fc1", 0.92}, {"fc2", 0.91}, {"fc3", 0.74}};

// ---------------------------------------------------------------------------------------------
// Settings.

struct Settings {
  int64_t epochs = 8;           // dense training epochs
  int64_t retrain_epochs = 2;   // retraining epochs after each pruning round
  int64_t rounds = 4;           // pruning rounds toward the final densities
  int64_t finetune_epochs = 2;  // centroid fine-tuning epochs
  int64_t batch_size = 128;
  double lr = 0.05;             // SGD (momentum 0.9), dense
  double retrain_lr = 0.02;     // SGD between pruning rounds
  double final_lr = 0.002;      // the last dense epoch and the last retraining epoch
  double finetune_lr = 1e-4;    // Adam, the centroids
  int64_t bits = 5;             // codebook bits (the paper's for fully connected layers)
  std::optional<int64_t> train_limit;
  // One thread by default: torch's OpenMP threads spin-wait, and on a small busy machine more ran slower.
  int64_t threads = 1;
  int64_t seed = 0;
  std::string data_root = kDefaultRoot;
  std::string out = "results/lenet300_cpp/lenet300.dcz";
};

constexpr const char* kUsage = R"(usage: lenet300_fashion_mnist [options]

Trains LeNet-300-100 on Fashion-MNIST, prunes it with retraining, quantizes it with centroid
fine-tuning and writes a Huffman-coded .dcz file, which it loads into a plain copy to evaluate.

options (defaults in brackets):
  --epochs N            dense training epochs [8]
  --retrain-epochs N    retraining epochs after each pruning round [2]
  --rounds N            pruning rounds toward fc1 8 %, fc2 9 %, fc3 26 % kept [4]
  --finetune-epochs N   centroid fine-tuning epochs [2]
  --batch-size N        [128]
  --lr X                SGD learning rate (momentum 0.9), dense [0.05]
  --retrain-lr X        SGD learning rate between pruning rounds [0.02]
  --final-lr X          learning rate of the last dense and the last retraining epoch [0.002]
  --finetune-lr X       Adam learning rate of the centroids [0.0001]
  --bits N              codebook bits, 1..8 [5]
  --train-limit N       use only the first N training images [all 60000]
  --threads N           CPU threads for torch [1]
  --seed N              [0]
  --data-root DIR       the gzipped idx files [/usr/share/datasets/fashion-mnist]
  --out PATH            the .dcz file to write [results/lenet300_cpp/lenet300.dcz]
  --help                this text
)";

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

Settings parse(int argc, char** argv) {
  Settings s;
  const std::map<std::string, std::function<void(const std::string&)>> flags{
      {"--epochs", [&](const std::string& v) { s.epochs = std::stoll(v); }},
      {"--retrain-epochs", [&](const std::string& v) { s.retrain_epochs = std::stoll(v); }},
      {"--rounds", [&](const std::string& v) { s.rounds = std::stoll(v); }},
      {"--finetune-epochs", [&](const std::string& v) { s.finetune_epochs = std::stoll(v); }},
      {"--batch-size", [&](const std::string& v) { s.batch_size = std::stoll(v); }},
      {"--lr", [&](const std::string& v) { s.lr = std::stod(v); }},
      {"--retrain-lr", [&](const std::string& v) { s.retrain_lr = std::stod(v); }},
      {"--final-lr", [&](const std::string& v) { s.final_lr = std::stod(v); }},
      {"--finetune-lr", [&](const std::string& v) { s.finetune_lr = std::stod(v); }},
      {"--bits", [&](const std::string& v) { s.bits = std::stoll(v); }},
      {"--train-limit", [&](const std::string& v) { s.train_limit = std::stoll(v); }},
      {"--threads", [&](const std::string& v) { s.threads = std::stoll(v); }},
      {"--seed", [&](const std::string& v) { s.seed = std::stoll(v); }},
      {"--data-root", [&](const std::string& v) { s.data_root = v; }},
      {"--out", [&](const std::string& v) { s.out = v; }},
  };
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::cout << kUsage;
      std::exit(0);
    }
    const auto found = flags.find(flag);
    if (found == flags.end()) throw UsageError("unknown option " + flag);
    if (i + 1 == argc) throw UsageError(flag + " needs a value");
    const std::string value = argv[++i];
    try {
      found->second(value);
    } catch (const std::logic_error&) {  // std::invalid_argument, std::out_of_range
      throw UsageError(flag + ": not a number: " + value);
    }
  }
  if (s.epochs < 1 || s.retrain_epochs < 1 || s.rounds < 1 || s.finetune_epochs < 0) {
    throw UsageError("--epochs, --retrain-epochs and --rounds must be >= 1, --finetune-epochs >= 0");
  }
  if (s.batch_size < 1 || s.threads < 1 || (s.train_limit && *s.train_limit < 1)) {
    throw UsageError("--batch-size, --threads and --train-limit must be >= 1");
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Training and evaluation.

using Batches = torch::data::datasets::MapDataset<FashionMnist, torch::data::transforms::Stack<>>;
using TrainLoader = torch::data::StatelessDataLoader<Batches, torch::data::samplers::RandomSampler>;
using TestLoader = torch::data::StatelessDataLoader<Batches, torch::data::samplers::SequentialSampler>;

struct Correct {
  int64_t count = 0, total = 0;
  double fraction() const { return total ? static_cast<double>(count) / static_cast<double>(total) : 0.0; }
};

Correct evaluate(LeNet300& model, TestLoader& test) {
  torch::NoGradGuard no_grad;
  model->eval();
  Correct correct;
  for (const auto& batch : test) {
    correct.count += (model->forward(batch.data).argmax(1) == batch.target).sum().item<int64_t>();
    correct.total += batch.target.size(0);
  }
  return correct;
}

// One pass over the training data in a fresh random order; the mean loss. enforce_masks after each
// step: momentum built up before a pruning round would move pruned weights off zero.
double train_epoch(LeNet300& model, torch::optim::Optimizer& optimizer, TrainLoader& train, bool enforce_masks) {
  model->train();
  double total = 0;
  int64_t count = 0;
  for (const auto& batch : train) {
    optimizer.zero_grad();
    const auto loss = torch::nn::functional::cross_entropy(model->forward(batch.data), batch.target);
    loss.backward();
    optimizer.step();
    if (enforce_masks) deepcomp::enforce_masks(*model);
    total += loss.item<double>() * static_cast<double>(batch.target.size(0));
    count += batch.target.size(0);
  }
  return total / static_cast<double>(count);
}

void set_lr(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

std::string percent(const Correct& correct) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(2) << 100 * correct.fraction() << "%";
  return text.str();
}

// Trains `epochs` epochs at lr_of(epoch), printing each; after_epoch(epoch) may add a note.
// Returns the last test accuracy.
Correct run_epochs(const std::string& label, LeNet300& model, torch::optim::Optimizer& optimizer, int64_t epochs,
                   const std::function<double(int64_t)>& lr_of, TrainLoader& train, TestLoader& test,
                   bool enforce_masks, const std::function<std::string(int64_t)>& after_epoch = {}) {
  Correct correct = evaluate(model, test);
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    set_lr(optimizer, lr_of(epoch));
    const auto began = std::chrono::steady_clock::now();
    const double loss = train_epoch(model, optimizer, train, enforce_masks);
    correct = evaluate(model, test);
    const std::string note = after_epoch ? after_epoch(epoch) : "";
    const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - began;
    std::cout << label << " " << epoch + 1 << "/" << epochs << "  " << std::fixed << std::setprecision(1)
              << seconds.count() << " s  loss " << std::setprecision(4) << loss << "  test acc " << percent(correct)
              << note << std::endl;
  }
  return correct;
}

std::string kept_note(const deepcomp::PruneReport& report) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(2) << 100.0 * static_cast<double>(report.total_kept()) /
                                                    static_cast<double>(report.total_weights())
       << "% kept";
  return text.str();
}

int run(const Settings& s) {
  const auto started = std::chrono::steady_clock::now();
  torch::manual_seed(s.seed);
  FashionMnist train_set(s.data_root, FashionMnist::Split::kTrain, s.train_limit);
  FashionMnist test_set(s.data_root, FashionMnist::Split::kTest);
  at::set_num_threads(static_cast<int>(s.threads));
  const auto train = torch::data::make_data_loader<torch::data::samplers::RandomSampler>(
      train_set.map(torch::data::transforms::Stack<>()),
      torch::data::DataLoaderOptions(s.batch_size).workers(0));
  // Batches of 1000, as examples/lenet/pipeline.py and the Python test evaluate: the same GEMMs.
  const auto test = torch::data::make_data_loader<torch::data::samplers::SequentialSampler>(
      test_set.map(torch::data::transforms::Stack<>()), torch::data::DataLoaderOptions(1000).workers(0));
  std::cout << "Fashion-MNIST: " << *train_set.size() << " training and " << *test_set.size() << " test images"
            << std::endl;

  LeNet300 model(/*masked=*/true);

  // Dense training.
  torch::optim::SGD dense_optimizer(model->parameters(), torch::optim::SGDOptions(s.lr).momentum(0.9));
  const auto dense = run_epochs("dense", model, dense_optimizer, s.epochs,
                                [&](int64_t e) { return e == s.epochs - 1 ? s.final_lr : s.lr; }, *train, *test,
                                /*enforce_masks=*/false);

  // Stage 1: pruning rounds with retraining; round 1 prunes the dense model before any retraining.
  deepcomp::PruningSchedule schedule(*model, {.sparsity = kSparsity}, {.steps = s.rounds, .every = s.retrain_epochs});
  auto prune_report = *schedule.step();
  std::cout << "pruned to " << kept_note(prune_report) << std::endl;
  torch::optim::SGD retrain_optimizer(model->parameters(), torch::optim::SGDOptions(s.retrain_lr).momentum(0.9));
  const int64_t retrain_epochs = s.rounds * s.retrain_epochs + 1;
  const auto pruned = run_epochs(
      "retrain", model, retrain_optimizer, retrain_epochs,
      [&](int64_t e) { return e == retrain_epochs - 1 ? s.final_lr : s.retrain_lr; }, *train, *test,
      /*enforce_masks=*/true, [&](int64_t e) -> std::string {
        if (e == retrain_epochs - 1) return "";
        const auto report = schedule.step();
        if (!report) return "";
        prune_report = *report;
        return ", pruned to " + kept_note(*report);
      });
  std::cout << "\nfinal pruning round:\n" << prune_report << "\n";

  // Stage 2: 5-bit codebooks, then the centroids (and biases) fine-tuned by Adam. The optimizer is
  // built now: the codebooks are new Parameters.
  const auto quantize_report = deepcomp::quantize(*model, {.bits = s.bits});
  const auto quantized = evaluate(model, *test);
  std::cout << "quantization:\n" << quantize_report << "\nquantized (" << s.bits << " bits): test acc "
            << percent(quantized) << std::endl;
  torch::optim::Adam finetune_optimizer(model->parameters(), torch::optim::AdamOptions(s.finetune_lr));
  Correct finetuned = quantized;
  if (s.finetune_epochs > 0) {
    finetuned = run_epochs("centroid fine-tuning", model, finetune_optimizer, s.finetune_epochs,
                           [&](int64_t) { return s.finetune_lr; }, *train, *test, /*enforce_masks=*/false);
  }

  // Stage 3: the .dcz file, loaded into a plain copy of the network.
  const auto parent = std::filesystem::path(s.out).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  const auto file_report = deepcomp::save(*model, s.out);
  std::cout << "\ncompressed file (" << file_report.file_bytes << " bytes on disk, " << file_report.dense_bytes
            << " bytes dense fp32: " << std::fixed << std::setprecision(1) << file_report.rate() << "x smaller):\n"
            << file_report << "\n";
  LeNet300 plain(/*masked=*/false);
  deepcomp::load(s.out, *plain);
  const auto reloaded = evaluate(plain, *test);

  const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - started;
  const std::vector<std::pair<std::string, Correct>> stages{{"dense", dense},
                                                             {"pruned", pruned},
                                                             {"quantized", quantized},
                                                             {"centroids fine-tuned", finetuned},
                                                             {"reloaded from the .dcz file", reloaded}};
  for (const auto& [stage, correct] : stages) {
    std::cout << std::left << std::setw(42) << stage + " test accuracy:" << std::right << " " << percent(correct)
              << "\n";
  }
  std::cout << "wall time: " << std::fixed << std::setprecision(1) << seconds.count() << " s\n";
  std::cout << "saved " << s.out << "\n";
  std::cout << "final test accuracy: " << std::fixed << std::setprecision(4) << reloaded.fraction() << " (" << reloaded.count
            << "/" << reloaded.total << ")" << std::endl;
  if (reloaded.count != finetuned.count) {
    std::cerr << "lenet300_fashion_mnist: the reloaded model gets " << reloaded.count << " right, the fine-tuned one "
              << finetuned.count << ": the file does not hold the weights that were evaluated\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const UsageError& e) {
    std::cerr << "lenet300_fashion_mnist: " << e.what() << "\n\n" << kUsage;
    return 2;
  } catch (const c10::Error& e) {
    std::cerr << "lenet300_fashion_mnist: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "lenet300_fashion_mnist: " << e.what() << "\n";
    return 1;
  }
}
