#include "ops/cpu/cpu_isa.h"

#include <ATen/Version.h>

#include <string>

namespace deepcomp::ops {
namespace {

CpuIsa detect() {
#if defined(__x86_64__)
  const std::string capability = at::get_cpu_capability();
  __builtin_cpu_init();
  if (capability == "AVX512" && __builtin_cpu_supports("avx512f")) return CpuIsa::kAvx512;
  if ((capability == "AVX512" || capability == "AVX2") && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma")) {
    return CpuIsa::kAvx2;
  }
#endif
  return CpuIsa::kPortable;
}

}  // namespace

CpuIsa cpu_isa() {
  static const CpuIsa isa = detect();
  return isa;
}

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512:
      return "avx512";
    case CpuIsa::kAvx2:
      return "avx2";
    default:
      return "portable";
  }
}

}  // namespace deepcomp::ops
