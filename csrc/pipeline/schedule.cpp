#include <deepcomp/schedule.h>

#include <cmath>

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

PruningSchedule::PruningSchedule(torch::nn::Module& model, PruneOptions final, PruningScheduleOptions options)
    : model_(model), final_(std::move(final)), options_(options) {
  TORCH_CHECK_VALUE(final_.sensitivity.has_value() != final_.sparsity.has_value(),
                    "PruningSchedule: set exactly one of sensitivity or sparsity");
  TORCH_CHECK_VALUE(options_.steps >= 1, "PruningSchedule: steps must be >= 1, got ", options_.steps);
  TORCH_CHECK_VALUE(options_.every >= 1, "PruningSchedule: every must be >= 1, got ", options_.every);
  TORCH_CHECK_VALUE(options_.start >= 0, "PruningSchedule: start must be >= 0, got ", options_.start);
}

PruneOptions PruningSchedule::round_options(int64_t round) const {
  const double fraction = static_cast<double>(round) / static_cast<double>(options_.steps);
  PruneOptions options;
  options.layers = final_.layers;
  if (final_.sparsity) options.sparsity = ramp(*final_.sparsity, sparsity_at, fraction);
  if (final_.sensitivity) options.sensitivity = ramp(*final_.sensitivity, sensitivity_at, fraction);
  return options;
}

std::optional<PruneReport> PruningSchedule::step() {
  const int64_t epoch = epoch_++;
  const bool due = epoch >= options_.start && (epoch - options_.start) % options_.every == 0;
  if (done() || !due) return std::nullopt;
  return prune(model_, round_options(++rounds_done_));
}

void PruningSchedule::restore(int64_t epoch, int64_t rounds_done) {
  TORCH_CHECK_VALUE(epoch >= 0 && rounds_done >= 0 && rounds_done <= options_.steps,
                    "PruningSchedule::restore: need epoch >= 0 and 0 <= rounds_done <= steps, got ", epoch, ", ",
                    rounds_done);
  epoch_ = epoch;
  rounds_done_ = rounds_done;
}

}  // namespace deepcomp
