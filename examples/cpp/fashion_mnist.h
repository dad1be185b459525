// Fashion-MNIST for LibTorch programs: FashionMnist, a torch::data dataset of one split, read from
// the four gzipped idx files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-
// idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) that Debian's dataset-fashion-mnist installs in
// /usr/share/datasets/fashion-mnist (kDefaultRoot). An idx file is a big-endian header (two zero
// bytes, type code 0x08 for unsigned bytes, the number of dimensions, each dimension as a uint32)
// followed by the array's bytes; the files are read with zlib. Bad input throws std::runtime_error
// naming the file: one that is missing (saying how to install the data set), that zlib cannot open
// or inflate, or an idx file that is too short, has the wrong magic number (type and number of
// dimensions), ends inside its header or holds other than the bytes its header says; and naming
// the directory, a split whose numbers of images and labels differ.
#pragma once

#include <torch/torch.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fashion_mnist {

inline constexpr const char* kDefaultRoot = "/usr/share/datasets/fashion-mnist";

// The whole content of a gzip file.
inline std::vector<uint8_t> gunzip(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error(path + " not found; install the data set with `sudo apt-get install "
                                    "dataset-fashion-mnist` or pass --data-root");
  }
  const std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(path.c_str(), "rb"), gzclose);
  if (!file) throw std::runtime_error("cannot open " + path);
  std::vector<uint8_t> data;
  std::vector<uint8_t> chunk(1 << 20);
  int read = 0;
  while ((read = gzread(file.get(), chunk.data(), static_cast<unsigned>(chunk.size()))) > 0) {
    data.insert(data.end(), chunk.begin(), chunk.begin() + read);
  }
  if (read < 0) {
    int code = 0;
    throw std::runtime_error(path + ": " + gzerror(file.get(), &code));
  }
  return data;
}

// The uint8 array of a gzipped idx file, shaped as its header says. The header: two zero bytes, a
// type code (0x08: unsigned byte), the number of dimensions, then each dimension (big-endian uint32).
inline torch::Tensor read_idx(const std::string& path, uint32_t expected_magic) {
  const auto data = gunzip(path);
  const auto be32 = [&](size_t at) {
    return uint32_t{data[at]} << 24 | uint32_t{data[at + 1]} << 16 | uint32_t{data[at + 2]} << 8 | data[at + 3];
  };
  if (data.size() < 4) throw std::runtime_error(path + " is too short to be an idx file");
  const uint32_t magic = be32(0);
  if (magic != expected_magic) {
    std::ostringstream message;
    message << path << " has idx magic number 0x" << std::hex << magic << ", expected 0x" << expected_magic;
    throw std::runtime_error(message.str());
  }
  const size_t ndim = magic & 0xFF, header = 4 + 4 * ndim;
  if (data.size() < header) throw std::runtime_error(path + " ends inside its header");
  std::vector<int64_t> shape;
  size_t count = 1;
  for (size_t i = 0; i < ndim; ++i) {
    shape.push_back(be32(4 + 4 * i));
    count *= shape.back();
  }
  if (data.size() - header != count) {
    throw std::runtime_error(path + " should hold " + std::to_string(count) + " bytes after its header, but holds " +
                             std::to_string(data.size() - header));
  }
  return torch::from_blob(const_cast<uint8_t*>(data.data()) + header, shape, torch::kUInt8).clone();
}

// Images (N, 1, 28, 28) as float32 in [0, 1].
inline torch::Tensor scale(const torch::Tensor& images) { return images.unsqueeze(1).to(torch::kFloat).div_(255.0); }

// One split of Fashion-MNIST: get(i) is image i (1, 28, 28), float32 normalised with the training
// set's mean and std (as examples/lenet/fashion_mnist.py does), and its label (int64, 0..9).
class FashionMnist : public torch::data::datasets::Dataset<FashionMnist> {
 public:
  enum class Split { kTrain, kTest };

  // Reads split's files under root. limit: keep only the first images (the mean and std are still
  // the whole training set's).
  FashionMnist(const std::string& root, Split split, std::optional<int64_t> limit = std::nullopt) {
    const bool train = split == Split::kTrain;
    const auto path = [&](const char* name) { return (std::filesystem::path(root) / name).string(); };
    const auto images = read_idx(path(train ? "train-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte.gz"), 0x803);
    const auto labels = read_idx(path(train ? "train-labels-idx1-ubyte.gz" : "t10k-labels-idx1-ubyte.gz"), 0x801);
    if (images.size(0) != labels.size(0)) {
      throw std::runtime_error(root + ": " + std::to_string(images.size(0)) + " images but " +
                               std::to_string(labels.size(0)) + " labels");
    }
    const auto [mean, stddev] = training_stats(root, train ? &images : nullptr);
    images_ = (scale(images) - mean) / stddev;
    labels_ = labels.to(torch::kLong);
    if (limit && *limit < images_.size(0)) {
      images_ = images_.narrow(0, 0, *limit);
      labels_ = labels_.narrow(0, 0, *limit);
    }
  }

  torch::data::Example<> get(size_t index) override { return {images_[index], labels_[index]}; }
  std::optional<size_t> size() const override { return images_.size(0); }

 private:
  // The mean and std of the scaled training images (read from root unless given). On one thread:
  // torch's float32 reductions round differently with the thread count, and one thread is what
  // tests/python/test_cpp_example.py uses to get exactly these inputs from fashion_mnist.py.
  static std::pair<double, double> training_stats(const std::string& root, const torch::Tensor* train_images) {
    const auto images = scale(train_images ? *train_images : read_idx(root + "/train-images-idx3-ubyte.gz", 0x803));
    const int threads = at::get_num_threads();
    at::set_num_threads(1);
    const std::pair<double, double> stats{images.mean().item<double>(), images.std().item<double>()};
    at::set_num_threads(threads);
    return stats;
  }

  torch::Tensor images_, labels_;
};

}  // namespace fashion_mnist
