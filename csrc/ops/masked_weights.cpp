#include "ops/masked_weights.h"

#include <mutex>
#include <unordered_map>

namespace deepcomp::ops {
namespace {

// A tensor as it was when recorded: still alive (the weak pointer, so a new tensor at a freed
// address is not mistaken for it), same data and same version.
struct Seen {
  c10::weak_intrusive_ptr<c10::TensorImpl> impl;
  const void* data;
  uint32_t version;

  explicit Seen(const at::Tensor& t)
      : impl(c10::weak_intrusive_ptr<c10::TensorImpl>(t.getIntrusivePtr())),
        data(t.const_data_ptr()),
        version(t._version()) {}
  bool same(const at::Tensor& t) const {
    return !impl.expired() && impl._unsafe_get_target() == t.unsafeGetTensorImpl() && data == t.const_data_ptr() &&
           version == t._version();
  }
};

struct Record {
  Seen weight, mask;
};

class MaskedWeights {
 public:
  bool known(const at::Tensor& weight, const at::Tensor& mask) {
    if (!tracked(weight, mask)) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = records_.find(weight.unsafeGetTensorImpl());
    return found != records_.end() && found->second.weight.same(weight) && found->second.mask.same(mask);
  }

  void record(const at::Tensor& weight, const at::Tensor& mask) {
    if (!tracked(weight, mask)) return;
    std::lock_guard<std::mutex> lock(mutex_);
    // Forget the weights that died, now and then, so the table stays the size of the live ones.
    if (records_.size() >= next_sweep_) {
      std::erase_if(records_, [](const auto& entry) { return entry.second.weight.impl.expired(); });
      next_sweep_ = 2 * records_.size() + 64;
    }
    records_.insert_or_assign(weight.unsafeGetTensorImpl(), Record{Seen(weight), Seen(mask)});
  }

 private:
  // Real tensors with data and version counters: not inference tensors, nor the fake, functional or
  // symbolic ones that tracing and torch.compile run the ops on.
  static bool tracked(const at::Tensor& t) {
    constexpr auto wrappers = c10::DispatchKeySet({c10::DispatchKey::Python, c10::DispatchKey::Functionalize,
                                                   c10::DispatchKey::PythonTLSSnapshot});
    return t.defined() && (t.is_cpu() || t.is_cuda()) && !t.is_inference() && t.has_storage() &&
           !t.unsafeGetTensorImpl()->has_symbolic_sizes_strides() && !t.key_set().has_any(wrappers);
  }
  static bool tracked(const at::Tensor& weight, const at::Tensor& mask) { return tracked(weight) && tracked(mask); }

  std::mutex mutex_;
  std::unordered_map<const c10::TensorImpl*, Record> records_;
  size_t next_sweep_ = 64;
};

MaskedWeights& masked_weights() {
  static MaskedWeights* table = new MaskedWeights();  // never destroyed: ops may run during exit
  return *table;
}

}  // namespace

bool known_masked(const at::Tensor& weight, const at::Tensor& mask) { return masked_weights().known(weight, mask); }

void record_masked(const at::Tensor& weight, const at::Tensor& mask) { masked_weights().record(weight, mask); }

}  // namespace deepcomp::ops
