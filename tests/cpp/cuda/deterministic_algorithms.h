// Turns torch's deterministic-algorithms flag on or off for a test and restores it when the test ends.
#pragma once

#include <ATen/Context.h>

namespace deepcomp::testing {

struct DeterministicAlgorithms {
  const bool before = at::globalContext().deterministicAlgorithms();
  explicit DeterministicAlgorithms(bool on) { at::globalContext().setDeterministicAlgorithms(on, false); }
  ~DeterministicAlgorithms() { at::globalContext().setDeterministicAlgorithms(before, false); }
};

}  // namespace deepcomp::testing
