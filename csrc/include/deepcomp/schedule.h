// Iterative pruning as in the paper (prune → retrain → prune harder), one call per epoch; the C++
// twin of deepcomp.PruningSchedule.
#pragma once

#include <deepcomp/prune.h>

namespace deepcomp {

struct PruningScheduleOptions {
  // Steps rounds in all, at epochs start, start + every, ...
  int64_t steps = 4;
  int64_t every = 1;
  int64_t start = 0;
};

class PruningSchedule {
 public:
  // `final` holds the final criterion (exactly one of sensitivity / sparsity) and the layers.
  // Round i of n asks for sparsity 1 − (1 − s)^(i/n) (each round drops the same share of the
  // survivors) or sensitivity s × i/n. Throws c10::ValueError for a bad schedule.
  PruningSchedule(torch::nn::Module& model, PruneOptions final, PruningScheduleOptions options = {});

  // Ends an epoch: prunes if a round falls on it and returns that round's report.
  std::optional<PruneReport> step();
  // The prune options of round `round` (1..steps).
  PruneOptions round_options(int64_t round) const;
  bool done() const { return rounds_done_ >= options_.steps; }
  int64_t epoch() const { return epoch_; }
  int64_t rounds_done() const { return rounds_done_; }
  // Resume a run: the epoch and rounds done so far.
  void restore(int64_t epoch, int64_t rounds_done);

 private:
  torch::nn::Module& model_;
  PruneOptions final_;
  PruningScheduleOptions options_;
  int64_t epoch_ = 0;
  int64_t rounds_done_ = 0;
};

}  // namespace deepcomp
