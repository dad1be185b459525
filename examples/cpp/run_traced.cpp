// Runs a deepcomp model traced in Python (torch.jit.trace; examples/cpp/trace_for_cpp.py makes one)
// in a C++ program that calls no deepcomp function: linking deepcomp::deepcomp is what registers the
// deepcomp ops the traced graph calls. The exported target keeps libdeepcomp linked even when the
// program is linked with --as-needed.
//   run_traced MODEL.pt INPUT.pt [EXPECTED.pt]
// INPUT and EXPECTED are tensors saved by Python's torch.save. With EXPECTED, the exit status is 1
// unless the output matches it (relative error at most 1e-5).
#include <torch/script.h>
#include <torch/serialize.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

torch::Tensor read_tensor(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cannot open " + path);
  const std::vector<char> bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  const auto value = torch::pickle_load(bytes);
  if (!value.isTensor()) throw std::runtime_error(path + " holds a " + value.tagKind() + ", not a tensor");
  return value.toTensor();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::cerr << "usage: run_traced MODEL.pt INPUT.pt [EXPECTED.pt]\n";
    return 2;
  }
  try {
    auto model = torch::jit::load(argv[1]);
    model.eval();
    torch::NoGradGuard no_grad;
    const auto output = model.forward({read_tensor(argv[2])}).toTensor();
    std::cout << "output " << output.sizes() << "\n";
    if (argc == 4) {
      const auto expected = read_tensor(argv[3]);
      const double error = (output - expected).norm().item<double>() / expected.norm().item<double>();
      std::cout << "relative error against " << argv[3] << ": " << error << "\n";
      if (!(error <= 1e-5)) return 1;
    }
  } catch (const c10::Error& e) {
    std::cerr << "run_traced: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "run_traced: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
