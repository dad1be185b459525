// Facts an op has worked out about tensors (this weight is masked; this mask keeps 9 %), remembered
// until torch sees either tensor change: its version counter (bumped by every in-place op, through
// autograd or not), its data pointer (`.data = ...`) or the tensor itself (a new one, or this one
// freed). Writes that bypass the version counter (through `.data`, numpy or raw pointers) are not
// seen. Only real CPU/CUDA tensors are remembered: not inference tensors (no version counter), nor
// the fake, functional or symbolic ones that tracing and torch.compile run ops on.
#pragma once

#include <ATen/ATen.h>

#include <mutex>
#include <optional>
#include <unordered_map>

namespace deepcomp::ops {

class TensorSnapshot {
 public:
  explicit TensorSnapshot(const at::Tensor& t)
      : impl_(t.defined() ? c10::weak_intrusive_ptr<c10::TensorImpl>(t.getIntrusivePtr())
                          : c10::weak_intrusive_ptr<c10::TensorImpl>(c10::intrusive_ptr<c10::TensorImpl>())),
        data_(t.defined() ? t.const_data_ptr() : nullptr),
        version_(t.defined() ? t._version() : 0) {}

  bool same(const at::Tensor& t) const {
    if (!t.defined()) return data_ == nullptr && impl_._unsafe_get_target() == nullptr;
    return !impl_.expired() && impl_._unsafe_get_target() == t.unsafeGetTensorImpl() && data_ == t.const_data_ptr() &&
           version_ == t._version();
  }
  bool alive() const { return !impl_.expired(); }

  static bool trackable(const at::Tensor& t) {
    if (!t.defined()) return true;
    constexpr auto wrappers = c10::DispatchKeySet(
        {c10::DispatchKey::Python, c10::DispatchKey::Functionalize, c10::DispatchKey::PythonTLSSnapshot});
    return (t.is_cpu() || t.is_cuda()) && !t.is_inference() && t.has_storage() &&
           !t.unsafeGetTensorImpl()->has_symbolic_sizes_strides() && !t.key_set().has_any(wrappers);
  }

 private:
  c10::weak_intrusive_ptr<c10::TensorImpl> impl_;
  const void* data_;
  uint32_t version_;
};

// Value about (key, other), other optional (undefined). Thread-safe; dead keys are swept now and
// then, so the table stays the size of the live ones.
template <typename Value>
class TensorMemo {
 public:
  std::optional<Value> find(const at::Tensor& key, const at::Tensor& other = {}) {
    if (!TensorSnapshot::trackable(key) || !TensorSnapshot::trackable(other)) return std::nullopt;
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = entries_.find(key.unsafeGetTensorImpl());
    if (found == entries_.end() || !found->second.key.same(key) || !found->second.other.same(other)) {
      return std::nullopt;
    }
    return found->second.value;
  }

  void remember(const at::Tensor& key, const at::Tensor& other, Value value) {
    if (!TensorSnapshot::trackable(key) || !TensorSnapshot::trackable(other)) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (entries_.size() >= next_sweep_) {
      std::erase_if(entries_, [](const auto& entry) { return !entry.second.key.alive(); });
      next_sweep_ = 2 * entries_.size() + 64;
    }
    entries_.insert_or_assign(key.unsafeGetTensorImpl(), Entry{TensorSnapshot(key), TensorSnapshot(other), value});
  }

 private:
  struct Entry {
    TensorSnapshot key, other;
    Value value;
  };
  std::mutex mutex_;
  std::unordered_map<const c10::TensorImpl*, Entry> entries_;
  size_t next_sweep_ = 64;
};

}  // namespace deepcomp::ops
