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

// The schedule's arithmetic and state, without a model: which epochs prune and each round's values.
// Python's deepcomp.PruningSchedule drives its own model with it.
class PruningTimetable {
 public:
  // `final` holds the final criterion (exactly one of sensitivity / sparsity) and the layers.
  // Round i of n asks for sparsity 1 − (1 − s)^(i/n) (each round drops the same share of the
  // survivors) or sensitivity s × i/n. Throws c10::ValueError for a bad schedule.
  PruningTimetable(PruneOptions final, PruningScheduleOptions options);

  // Ends an epoch: the round (1..steps) that falls on it, if any.
  std::optional<int64_t> next_epoch();
  // The prune options of round `round` (1..steps).
  PruneOptions round_options(int64_t round) const;
  bool done() const { return rounds_done_ >= options_.steps; }
  int64_t epoch() const { return epoch_; }
  int64_t rounds_done() const { return rounds_done_; }
  // Resume a run: the epoch and rounds done so far (checked against the schedule).
  void restore(int64_t epoch, int64_t rounds_done);

 private:
  PruneOptions final_;
  PruningScheduleOptions options_;
  int64_t epoch_ = 0;
  int64_t rounds_done_ = 0;
};

class PruningSchedule {
 public:
  // See PruningTimetable.
  PruningSchedule(torch::nn::Module& model, PruneOptions final, PruningScheduleOptions options = {});

  // Ends an epoch: prunes if a round falls on it and returns that round's report.
  std::optional<PruneReport> step();
  PruneOptions round_options(int64_t round) const { return timetable_.round_options(round); }
  bool done() const { return timetable_.done(); }
  int64_t epoch() const { return timetable_.epoch(); }
  int64_t rounds_done() const { return timetable_.rounds_done(); }
  void restore(int64_t epoch, int64_t rounds_done) { timetable_.restore(epoch, rounds_done); }

 private:
  torch::nn::Module& model_;
  PruningTimetable timetable_;
};

}  // namespace deepcomp
