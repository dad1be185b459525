#include <deepcomp/schedule.h>

#include <cmath>

#include "check.h"

namespace deepcomp {
namespace {

LayerValues ramp(const LayerValues& final, double (*at)(double, double), double fraction) {
  if (const auto* all = std::get_if<double>(&final)) return at(*all, fraction);
  auto per_layer = std::get<std::map<std::string, double>>(final);
  for (auto& entry : per_layer) entry.second = at(entry.second, fraction);
  return per_layer;
}

double sparsity_at(double final, double fraction) { return 1.0 - std::pow(1.0 - final, fraction); }
double sensitivity_at(double final, double fraction) { return final * fraction; }

}  // namespace

PruningTimetable::PruningTimetable(PruneOptions final, PruningScheduleOptions options)
    : final_(std::move(final)), options_(options) {
  DEEPCOMP_CHECK_VALUE(final_.sensitivity.has_value() != final_.sparsity.has_value(),
                       "PruningSchedule: set exactly one of sensitivity or sparsity");
  DEEPCOMP_CHECK_VALUE(options_.steps >= 1, "PruningSchedule: steps must be an int >= 1, got ", options_.steps);
  DEEPCOMP_CHECK_VALUE(options_.every >= 1, "PruningSchedule: every must be an int >= 1, got ", options_.every);
  DEEPCOMP_CHECK_VALUE(options_.start >= 0, "PruningSchedule: start must be an int >= 0, got ", options_.start);
}

PruneOptions PruningTimetable::round_options(int64_t round) const {
  DEEPCOMP_CHECK_VALUE(round >= 1 && round <= options_.steps, "PruningSchedule: round must be in 1..", options_.steps,
                       ", got ", round);
  const double fraction = static_cast<double>(round) / static_cast<double>(options_.steps);
  PruneOptions options;
  options.layers = final_.layers;
  options.exclude = final_.exclude;
  if (final_.sparsity) options.sparsity = ramp(*final_.sparsity, sparsity_at, fraction);
  if (final_.sensitivity) options.sensitivity = ramp(*final_.sensitivity, sensitivity_at, fraction);
  return options;
}

std::optional<int64_t> PruningTimetable::next_epoch() {
  const int64_t epoch = epoch_++;
  const bool due = epoch >= options_.start && (epoch - options_.start) % options_.every == 0;
  if (done() || !due) return std::nullopt;
  return ++rounds_done_;
}

void PruningTimetable::restore(int64_t epoch, int64_t rounds_done) {
  DEEPCOMP_CHECK_VALUE(epoch >= 0 && rounds_done >= 0 && rounds_done <= options_.steps,
                       "PruningSchedule: a saved state needs epoch >= 0 and 0 <= rounds_done <= steps (",
                       options_.steps, "), got epoch ", epoch, ", rounds_done ", rounds_done);
  epoch_ = epoch;
  rounds_done_ = rounds_done;
}

PruningSchedule::PruningSchedule(torch::nn::Module& model, PruneOptions final, PruningScheduleOptions options)
    : model_(model), timetable_(std::move(final), options) {}

std::optional<PruneReport> PruningSchedule::step() {
  const auto round = timetable_.next_epoch();
  if (!round) return std::nullopt;
  return prune(model_, timetable_.round_options(*round));
}

}  // namespace deepcomp
