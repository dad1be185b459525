// The pipeline's decisions for deepcomp/{prune,quantize,sensitivity,schedule}.py: the layer table and
// domain constants, the model description the front end fills in, the plan_* calls and their report
// objects. Python arguments are converted here, with errors that name the argument and the value.
#include "bindings.h"

#include <deepcomp/calibration.h>
#include <deepcomp/constants.h>
#include <deepcomp/layers.h>
#include <deepcomp/prune.h>
#include <deepcomp/quantize.h>
#include <deepcomp/schedule.h>
#include <deepcomp/sensitivity.h>

#include <pybind11/stl.h>
#include <torch/csrc/utils/pybind.h>

#include <cmath>
#include <limits>

#include "pipeline/table.h"

namespace py = pybind11;

namespace deepcomp::bindings {
namespace {

using Names = std::optional<std::vector<std::string>>;

bool is_number(const py::handle& value) {
  return !py::isinstance<py::bool_>(value) && (py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value));
}

bool is_int(const py::handle& value) {
  return !py::isinstance<py::bool_>(value) && py::isinstance<py::int_>(value);
}

std::string text_of(const py::handle& value) { return py::repr(value).cast<std::string>(); }

// A float for every layer, or {name: float}.
LayerValues layer_values(const py::object& values, const std::string& where) {
  if (py::isinstance<py::dict>(values)) {
    std::map<std::string, double> per_layer;
    for (const auto& [name, value] : values.cast<py::dict>()) {
      TORCH_CHECK_TYPE(py::isinstance<py::str>(name), where, ": layer names are strings, got ", text_of(name));
      TORCH_CHECK_TYPE(is_number(value), where, " for '", name.cast<std::string>(), "' must be a number, got ",
                       text_of(value));
      per_layer[name.cast<std::string>()] = value.cast<double>();
    }
    return per_layer;
  }
  TORCH_CHECK_TYPE(is_number(values), where, " must be a number (or a dict of them by layer name), got ", text_of(values));
  return values.cast<double>();
}

std::optional<LayerBits> layer_bits(const py::object& bits, const std::string& where) {
  if (bits.is_none()) return std::nullopt;
  const auto type_error = [&](const py::handle& value, const std::string& what) {
    TORCH_CHECK_TYPE(false, what, " must be an int in ", kMinBits, "..", kMaxBits, ", got ", text_of(value));
  };
  if (py::isinstance<py::dict>(bits)) {
    std::map<std::string, int64_t> per_layer;
    for (const auto& [name, value] : bits.cast<py::dict>()) {
      TORCH_CHECK_TYPE(py::isinstance<py::str>(name), where, ": layer names are strings, got ", text_of(name));
      if (!is_int(value)) type_error(value, where + " for '" + name.cast<std::string>() + "'");
      per_layer[name.cast<std::string>()] = value.cast<int64_t>();
    }
    return per_layer;
  }
  if (!is_int(bits)) type_error(bits, where);
  return bits.cast<int64_t>();
}

// layers= / exclude=: one name, several, or None.
Names names(const py::object& value, const std::string& where) {
  if (value.is_none()) return std::nullopt;
  if (py::isinstance<py::str>(value)) return std::vector<std::string>{value.cast<std::string>()};
  std::vector<std::string> list;
  for (const auto& name : value) {
    TORCH_CHECK_TYPE(py::isinstance<py::str>(name), where, ": layer names are strings, got ", text_of(name));
    list.push_back(name.cast<std::string>());
  }
  return list;
}

// sparsities= / bits= of a sensitivity sweep: a sequence of numbers (ints for bits), or None.
template <typename T>
std::optional<std::vector<T>> sweep_values(const py::object& values, const std::string& where) {
  if (values.is_none()) return std::nullopt;
  TORCH_CHECK_TYPE(!is_number(values) && !py::isinstance<py::str>(values) && py::hasattr(values, "__iter__"), where,
                   " must be a sequence of values (or None), got ", text_of(values));
  std::vector<T> list;
  for (const auto& value : values) {
    if constexpr (std::is_same_v<T, int64_t>) {
      TORCH_CHECK_TYPE(is_int(value), where, " must be ints in ", kMinBits, "..", kMaxBits, ", got ", text_of(value));
    } else {
      TORCH_CHECK_TYPE(is_number(value), where, " must be numbers in [0, 1), got ", text_of(value));
    }
    list.push_back(value.cast<T>());
  }
  return list;
}

py::tuple shape_tuple(const std::vector<int64_t>& shape) { return py::cast(shape).cast<py::tuple>(); }

// What the per-layer reports share in Python: rows by name, len, iteration, str() as the table.
template <typename Report, typename Class>
void bind_rows(Class& report) {
  report.def("__len__", [](const Report& r) { return r.layers.size(); })
      .def("__iter__", [](const Report& r) { return py::make_iterator(r.layers.begin(), r.layers.end()); },
           py::keep_alive<0, 1>())
      .def("__getitem__",
           [](const Report& r, const std::string& name) {
             for (const auto& layer : r.layers) {
               if (layer.name == name) return layer;
             }
             throw py::key_error("no layer '" + name + "' in this report");
           })
      .def("table", &Report::table)
      .def("__str__", &Report::table);
}

void bind_layers(py::module_& m) {
  auto constants = m.def_submodule("constants", "deepcomp's domain constants (csrc/include/deepcomp/constants.h)");
  constants.attr("MIN_BITS") = kMinBits;
  constants.attr("MAX_BITS") = kMaxBits;
  constants.attr("DEFAULT_CONV_BITS") = kDefaultConvBits;
  constants.attr("DEFAULT_LINEAR_BITS") = kDefaultLinearBits;
  constants.attr("CODEBOOK_INITS") = py::tuple(py::cast(std::vector<std::string>(kCodebookInits.begin(), kCodebookInits.end())));
  constants.attr("KMEANS_METHODS") = py::tuple(py::cast(std::vector<std::string>(kKMeansMethods.begin(), kKMeansMethods.end())));
  constants.attr("MIN_GAP_BITS") = kMinGapBits;
  constants.attr("MAX_GAP_BITS") = kMaxGapBits;
  constants.attr("MAX_CODE_LENGTH") = kMaxCodeLength;
  constants.attr("DEFAULT_MAX_CODE_LENGTH") = kDefaultMaxCodeLength;

  m.def("layer_kinds", [] {
    py::list rows;
    for (const auto& kind : layer_kinds()) {
      py::dict row;
      row["name"] = std::string(kind.name);
      row["dense"] = std::string(kind.dense);
      row["stage"] = kind.stage == LayerStage::dense ? "dense" : kind.stage == LayerStage::masked ? "masked" : "shared";
      row["masked"] = std::string(kind.masked);
      row["shared"] = std::string(kind.shared);
      row["default_bits"] = kind.default_bits;
      row["weight_stem"] = std::string(kind.weight_stem);
      rows.append(row);
    }
    return rows;
  }, "the layer table: one dict per kind (name, dense, stage, masked, shared, default_bits, weight_stem)");

  py::class_<ModuleEntry>(m, "ModuleEntry", "one module of a model as the pipeline sees it (deepcomp/layers.h)")
      .def(py::init([](std::string name, std::string type, std::string kind, std::string subclass_of,
                       bool has_weight_matrix, std::string fixed_reason, std::optional<torch::Tensor> weight,
                       std::optional<torch::Tensor> mask, std::string leave_reason) {
             return ModuleEntry{std::move(name), std::move(type), std::move(kind), std::move(subclass_of),
                                has_weight_matrix, std::move(fixed_reason), weight.value_or(torch::Tensor()),
                                mask.value_or(torch::Tensor()), std::move(leave_reason)};
           }),
           py::arg("name"), py::arg("type"), py::arg("kind") = "", py::arg("subclass_of") = "",
           py::arg("has_weight_matrix") = false, py::arg("fixed_reason") = "", py::arg("weight") = py::none(),
           py::arg("mask") = py::none(), py::arg("leave_reason") = "")
      .def_readonly("name", &ModuleEntry::name)
      .def_readonly("kind", &ModuleEntry::kind);

  py::class_<SkippedLayer>(m, "SkippedLayer", "a weighted layer a call left alone without being asked to, and why")
      .def_readonly("name", &SkippedLayer::name)
      .def_readonly("type", &SkippedLayer::type)
      .def_readonly("reason", &SkippedLayer::reason)
      .def("__repr__", [](const SkippedLayer& s) { return "SkippedLayer('" + s.name + "', " + s.type + ": " + s.reason + ")"; });
  m.def(
      "calibration_layers",
      [](const ModelEntries& model, const py::object& layers, const py::object& exclude, const std::string& caller) {
        auto choice = choose_layers(model, LayerUse::calibrate, caller, names(layers, caller + ": layers"),
                                    names(exclude, caller + ": exclude").value_or(std::vector<std::string>{}));
        return py::make_tuple(choice.chosen, choice.skipped);
      },
      py::arg("model"), py::arg("layers"), py::arg("exclude"), py::arg("caller"),
      "(layer indices, skipped layers) whose inputs calibration gathers (LayerUse::calibrate)");
  m.def("skipped_text", &skipped_text);
  m.def("format_table", &format_table, py::arg("header"), py::arg("rows"), py::arg("footer"),
        "the reports' table layout: first column left-aligned, the others right-aligned, footer below a rule");
}

void bind_calibration(py::module_& m) {
  py::class_<InputMoments>(m, "InputMoments",
                           "the second moments of one layer's input features (deepcomp/calibration.h)")
      .def(py::init<>())
      .def("add", [](InputMoments& moments, const std::string& kind, const std::vector<int64_t>& weight_shape,
                     const torch::Tensor& input) { moments.add(kind, weight_shape, input); },
           py::arg("kind"), py::arg("weight_shape"), py::arg("input"),
           "counts the input of a layer of this kind (layer_kinds() name) and weight shape")
      .def("merge", &InputMoments::merge, py::arg("other"), "adds another's counts of the same layer")
      .def("mean_square", &InputMoments::mean_square, "E[x^2] per input feature (float64, CPU)")
      .def_property_readonly("samples", &InputMoments::samples, "positions counted per feature")
      .def(py::pickle(  // so torch.distributed.all_gather_object and torch.save carry it
          [](const InputMoments& moments) { return py::make_tuple(moments.sum_sq(), moments.samples()); },
          [](const py::tuple& state) {
            TORCH_CHECK_VALUE(state.size() == 2, "InputMoments: a pickled state is (sum_sq, samples)");
            const auto sum_sq = state[0].is_none() ? torch::Tensor() : state[0].cast<torch::Tensor>();
            return InputMoments(sum_sq, state[1].cast<int64_t>());
          }))
      .def("__repr__", [](const InputMoments& moments) {
        return "InputMoments(features=" + std::to_string(moments.mean_square().numel()) +
               ", samples=" + std::to_string(moments.samples()) + ")";
      });
}

void bind_prune(py::module_& m) {
  py::class_<LayerPruneStats>(m, "LayerPruneStats", "one pruned layer: a row of PruneReport")
      .def_readonly("name", &LayerPruneStats::name)
      .def_readonly("kind", &LayerPruneStats::kind)
      .def_property_readonly("shape", [](const LayerPruneStats& l) { return shape_tuple(l.shape); })
      .def_readonly("weights", &LayerPruneStats::weights)
      .def_readonly("kept", &LayerPruneStats::kept)
      .def_property_readonly("kept_fraction", &LayerPruneStats::kept_fraction)
      .def("__repr__", [](const LayerPruneStats& l) {
        return "LayerPruneStats(name='" + l.name + "', kind='" + l.kind + "', weights=" + std::to_string(l.weights) +
               ", kept=" + std::to_string(l.kept) + ")";
      });
  py::class_<PruneReport> report(m, "PruneReport", "one row per pruned layer; str() is the table");
  report.def_readonly("criterion", &PruneReport::criterion)
      .def_readonly("score", &PruneReport::score)
      .def_readonly("layers", &PruneReport::layers)
      .def_readonly("skipped", &PruneReport::skipped)
      .def_property_readonly("total_weights", &PruneReport::total_weights)
      .def_property_readonly("total_kept", &PruneReport::total_kept)
      .def_property_readonly("kept_fraction", &PruneReport::kept_fraction)
      .def("to_dict", [](const PruneReport& r) {
        py::list layers;
        for (const auto& l : r.layers) {
          layers.append(py::dict(py::arg("name") = l.name, py::arg("kind") = l.kind, py::arg("shape") = l.shape,
                                 py::arg("weights") = l.weights, py::arg("kept") = l.kept,
                                 py::arg("kept_fraction") = l.kept_fraction()));
        }
        return py::dict(py::arg("criterion") = r.criterion, py::arg("score") = r.score, py::arg("layers") = layers,
                        py::arg("total_weights") = r.total_weights(), py::arg("total_kept") = r.total_kept(),
                        py::arg("kept_fraction") = r.kept_fraction());
      });
  bind_rows<PruneReport>(report);

  m.def(
      "plan_prune",
      [](const ModelEntries& model, const std::string& criterion, const py::object& values, const py::object& layers,
         const py::object& exclude, const std::string& caller, const std::string& score,
         const std::optional<Calibration>& calibration) {
        PruneOptions options;
        (criterion == "sensitivity" ? options.sensitivity : options.sparsity) =
            layer_values(values, caller + ": " + criterion);
        options.criterion = score;
        options.calibration = calibration;
        options.layers = names(layers, caller + ": layers");
        options.exclude = names(exclude, caller + ": exclude").value_or(std::vector<std::string>{});
        auto plan = plan_prune(model, options, caller);
        return py::make_tuple(std::move(plan.report), plan.layers, plan.masks);
      },
      py::arg("model"), py::arg("criterion"), py::arg("values"), py::arg("layers"), py::arg("exclude"),
      py::arg("caller"), py::arg("score") = "magnitude", py::arg("calibration") = std::nullopt,
      "(report, layer indices, new masks): see deepcomp/prune.h (score: its criterion)");
}

QuantizeOptions clustering(const std::string& init, const std::string& method, const py::object& seed,
                           const std::map<std::string, torch::Tensor>& importance,
                           const std::optional<Calibration>& calibration, const py::object& group_size,
                           const std::string& caller) {
  QuantizeOptions options;
  if (!group_size.is_none()) {
    TORCH_CHECK_TYPE(is_int(group_size), caller, ": group_size must be an int or None, got ", text_of(group_size));
    TORCH_CHECK_VALUE(group_size.cast<py::int_>() >= py::int_(1) &&
                          group_size.cast<py::int_>() <= py::int_(std::numeric_limits<int64_t>::max()),
                      caller, ": group_size must be >= 1, got ", text_of(group_size));
    options.group_size = group_size.cast<int64_t>();
  }
  options.importance = importance;
  options.calibration = calibration;
  options.init = init;
  options.method = method;
  TORCH_CHECK_TYPE(is_int(seed), caller, ": seed must be an int, got ", text_of(seed));
  TORCH_CHECK_VALUE(seed.cast<py::int_>() >= py::int_(0) &&
                        seed.cast<py::int_>() <= py::int_(std::numeric_limits<int64_t>::max()),
                    caller, ": seed must be in 0..2^63-1, got ", text_of(seed));
  options.seed = seed.cast<int64_t>();
  check_cluster_options(options, caller);
  return options;
}

void bind_quantize(py::module_& m) {
  py::class_<LayerQuantizeStats>(m, "LayerQuantizeStats", "one quantized layer: a row of QuantizeReport")
      .def_readonly("name", &LayerQuantizeStats::name)
      .def_readonly("kind", &LayerQuantizeStats::kind)
      .def_property_readonly("shape", [](const LayerQuantizeStats& l) { return shape_tuple(l.shape); })
      .def_readonly("bits", &LayerQuantizeStats::bits)
      .def_property_readonly("k", &LayerQuantizeStats::k)
      .def_readonly("groups", &LayerQuantizeStats::groups, "codebooks: equal slices of the first dimension")
      .def_readonly("weights", &LayerQuantizeStats::weights)
      .def_readonly("kept", &LayerQuantizeStats::kept)
      .def_readonly("clusters_used", &LayerQuantizeStats::clusters_used)
      .def_readonly("squared_error", &LayerQuantizeStats::squared_error)
      .def_readonly("index_entropy", &LayerQuantizeStats::index_entropy)
      .def("__repr__", [](const LayerQuantizeStats& l) {
        return "LayerQuantizeStats(name='" + l.name + "', kind='" + l.kind + "', bits=" + std::to_string(l.bits) +
               ", kept=" + std::to_string(l.kept) + ")";
      });
  py::class_<QuantizeReport> report(m, "QuantizeReport", "one row per quantized layer; str() is the table");
  report.def_readonly("init", &QuantizeReport::init)
      .def_readonly("method", &QuantizeReport::method)
      .def_readonly("layers", &QuantizeReport::layers)
      .def_readonly("skipped", &QuantizeReport::skipped)
      .def("to_dict", [](const QuantizeReport& r) {
        py::list layers;
        for (const auto& l : r.layers) {
          layers.append(py::dict(py::arg("name") = l.name, py::arg("kind") = l.kind, py::arg("shape") = l.shape,
                                 py::arg("bits") = l.bits, py::arg("weights") = l.weights, py::arg("kept") = l.kept,
                                 py::arg("clusters_used") = l.clusters_used,
                                 py::arg("squared_error") = l.squared_error,
                                 py::arg("index_entropy") = l.index_entropy, py::arg("k") = l.k(),
                                 py::arg("groups") = l.groups));
        }
        return py::dict(py::arg("init") = r.init, py::arg("method") = r.method, py::arg("layers") = layers);
      });
  bind_rows<QuantizeReport>(report);

  py::class_<QuantizeOptions>(m, "QuantizeOptions", "how layers are clustered (deepcomp/quantize.h)");
  m.def("clustering", &clustering, py::arg("init"), py::arg("method"), py::arg("seed"), py::arg("importance"),
        py::arg("calibration"), py::arg("group_size"), py::arg("caller"),
        "QuantizeOptions with only how to cluster set: init, method, seed, importance, calibration, group_size");
  m.def(
      "plan_quantize",
      [](const ModelEntries& model, const py::object& bits, const py::object& layers, const py::object& exclude,
         QuantizeOptions options, const std::string& caller) {
        options.bits = layer_bits(bits, caller + ": bits");
        options.layers = names(layers, caller + ": layers");
        options.exclude = names(exclude, caller + ": exclude").value_or(std::vector<std::string>{});
        auto plan = plan_quantize(model, options, caller);
        py::list weights;
        for (const auto& w : plan.weights) weights.append(py::make_tuple(w.codebook, w.indices, w.mask));
        return py::make_tuple(std::move(plan.report), plan.layers, weights);
      },
      py::arg("model"), py::arg("bits"), py::arg("layers"), py::arg("exclude"), py::arg("clustering"),
      py::arg("caller"), "(report, layer indices, [(codebook, indices, mask)]): see deepcomp/quantize.h");
  m.def(
      "cluster_weight",
      [](const torch::Tensor& weight, const torch::Tensor& mask, int64_t bits, const std::string& init,
         const std::string& method, int64_t seed, int64_t groups) {
        const auto shared = nn::cluster_weight(weight, mask, bits, {init, method, seed}, {}, groups);
        return py::make_tuple(shared.codebook, shared.indices);
      },
      py::arg("weight"), py::arg("mask"), py::arg("bits"), py::arg("init"), py::arg("method"), py::arg("seed"),
      py::arg("groups"), "(codebook, indices) of deepcomp::nn::cluster_weight: one codebook per equal slice");
}

py::dict ordered_by_layer(const SensitivityReport& report, const std::map<std::string, double>& values, bool as_int) {
  py::dict ordered;  // the report's measured order, as Python's dicts keep it
  for (const auto& layer : report.layers()) {
    const auto found = values.find(layer);
    if (found == values.end()) continue;
    if (as_int) {
      ordered[py::str(layer)] = static_cast<int64_t>(found->second);
    } else {
      ordered[py::str(layer)] = found->second;
    }
  }
  return ordered;
}

bool same_point(const SensitivityPoint& a, const SensitivityPoint& b) {
  return a.layer == b.layer && a.kind == b.kind && a.value == b.value && a.metric == b.metric && a.bytes == b.bytes &&
         a.codebooks == b.codebooks;
}

void bind_sensitivity(py::module_& m) {
  py::class_<SensitivityPoint>(m, "SensitivityPoint",
                               "one measurement: metric with only layer pruned to sparsity value (kind 'prune') or "
                               "quantized to value bits (kind 'quantize')")
      .def(py::init([](std::string layer, std::string kind, double value, double metric, int64_t bytes,
                       int64_t codebooks) {
             return SensitivityPoint{std::move(layer), std::move(kind), value, metric, bytes, codebooks};
           }),
           py::arg("layer"), py::arg("kind"), py::arg("value"), py::arg("metric"), py::arg("bytes") = 0,
           py::arg("codebooks") = 0)
      .def_readonly("layer", &SensitivityPoint::layer)
      .def_readonly("kind", &SensitivityPoint::kind)
      .def_readonly("value", &SensitivityPoint::value)
      .def_readonly("metric", &SensitivityPoint::metric)
      .def_readonly("bytes", &SensitivityPoint::bytes, "kind 'quantize': the layer's weight's bytes in a .dcz file")
      .def_readonly("codebooks", &SensitivityPoint::codebooks, "kind 'quantize': 1, or its per-group codebooks")
      .def("__eq__", &same_point)
      .def("__repr__", [](const SensitivityPoint& p) {
        return "SensitivityPoint(layer='" + p.layer + "', kind='" + p.kind + "', value=" + std::to_string(p.value) +
               ", metric=" + std::to_string(p.metric) + ", bytes=" + std::to_string(p.bytes) +
               ", codebooks=" + std::to_string(p.codebooks) + ")";
      });

  py::class_<BitBudget>(m, "BitBudget", "per-layer widths for a file-size budget (SensitivityReport.bits_for_budget)")
      .def_property_readonly("bits", [](const BitBudget& b) {
        py::dict bits;
        for (const auto& [layer, width] : b.bits) bits[py::str(layer)] = width;
        return bits;
      }, "{layer: bits}, for deepcomp.quantize(bits=...)")
      .def_readonly("file_bytes", &BitBudget::file_bytes, "the file's size with those widths, as estimated")
      .def_readonly("metric", &BitBudget::metric, "the baseline less the sum of the chosen widths' measured drops")
      .def("__repr__", [](const BitBudget& b) {
        return "BitBudget(" + std::to_string(b.bits.size()) + " layers, file_bytes=" + std::to_string(b.file_bytes) +
               ", metric=" + std::to_string(b.metric) + ")";
      });

  py::class_<SensitivityReport>(m, "SensitivityReport",
                                "the unmodified model's metric and one point per (layer, value), in measured order")
      .def(py::init([](double baseline, std::vector<SensitivityPoint> points, bool interrupted) {
             SensitivityReport report;
             report.baseline = baseline;
             report.points = std::move(points);
             report.interrupted = interrupted;
             return report;
           }),
           py::arg("baseline"), py::arg("points") = std::vector<SensitivityPoint>{}, py::arg("interrupted") = false)
      .def_readonly("baseline", &SensitivityReport::baseline)
      .def_readonly("points", &SensitivityReport::points)
      .def_readonly("interrupted", &SensitivityReport::interrupted)
      .def_readonly("skipped", &SensitivityReport::skipped)
      .def_property_readonly("layers", &SensitivityReport::layers)
      .def("kinds", &SensitivityReport::kinds)
      .def("__len__", [](const SensitivityReport& r) { return r.points.size(); })
      .def("__iter__", [](const SensitivityReport& r) { return py::make_iterator(r.points.begin(), r.points.end()); },
           py::keep_alive<0, 1>())
      .def("__getitem__",
           [](const SensitivityReport& r, const std::string& layer) {
             std::vector<SensitivityPoint> found;
             for (const auto& point : r.points) {
               if (point.layer == layer) found.push_back(point);
             }
             if (found.empty()) throw py::key_error("no layer '" + layer + "' in this report");
             return found;
           })
      .def("__eq__", [](const SensitivityReport& a, const SensitivityReport& b) {
        return a.baseline == b.baseline && a.interrupted == b.interrupted &&
               std::equal(a.points.begin(), a.points.end(), b.points.begin(), b.points.end(), same_point);
      })
      .def("curves", [](const SensitivityReport& r, const std::string& kind) {
        const auto curves = r.curves(kind);
        py::dict ordered;
        for (const auto& layer : r.layers()) {
          if (curves.contains(layer)) ordered[py::str(layer)] = curves.at(layer);
        }
        return ordered;
      }, py::arg("kind") = "prune", "layer -> [(value, metric), ...] in measured order")
      .def("table", &SensitivityReport::table, py::arg("kind") = "prune")
      .def("__str__", [](const SensitivityReport& r) {
        std::ostringstream text;
        text << r;
        return text.str();
      })
      .def("to_dict", [](const SensitivityReport& r) {
        py::list points;
        for (const auto& p : r.points) {
          points.append(py::dict(py::arg("layer") = p.layer, py::arg("kind") = p.kind, py::arg("value") = p.value,
                                 py::arg("metric") = p.metric, py::arg("bytes") = p.bytes,
                                 py::arg("codebooks") = p.codebooks));
        }
        return py::dict(py::arg("baseline") = r.baseline, py::arg("interrupted") = r.interrupted,
                        py::arg("points") = points);
      })
      .def("tolerated",
           [](const SensitivityReport& r, const py::object& max_drop, const std::string& kind, bool higher_is_better) {
             TORCH_CHECK_VALUE(is_number(max_drop), "max_drop must be a number >= 0 (in the metric's units), got ",
                               text_of(max_drop));
             return ordered_by_layer(r, r.tolerated(max_drop.cast<double>(), kind, higher_is_better),
                                     kind == "quantize");
           },
           py::arg("max_drop"), py::arg("kind") = "prune", py::arg("higher_is_better") = true)
      .def("_sensitivities",
           [](const SensitivityReport& r, const ModelEntries& model, const py::object& max_drop, bool higher_is_better) {
             TORCH_CHECK_VALUE(is_number(max_drop), "max_drop must be a number >= 0 (in the metric's units), got ",
                               text_of(max_drop));
             return ordered_by_layer(r, r.sensitivities(model, max_drop.cast<double>(), higher_is_better), false);
           })
      .def("_bits_for_budget",
           [](const SensitivityReport& r, const NamedTensors& state, const py::object& max_bytes, bool higher_is_better) {
             TORCH_CHECK_TYPE(is_number(max_bytes), "bits_for_budget: max_bytes must be a number, got ",
                              text_of(max_bytes));
             const double bytes = std::floor(max_bytes.cast<double>());  // a file of at most that many bytes
             TORCH_CHECK_VALUE(bytes >= 1 && bytes < 0x1p63, "bits_for_budget: max_bytes must be >= 1, got ",
                               text_of(max_bytes));
             return r.bits_for_budget(state, static_cast<int64_t>(bytes), higher_is_better);
           });

  m.def(
      "plan_sensitivity",
      [](const ModelEntries& model, const py::object& sparsities, const py::object& bits, const py::object& layers,
         const py::object& exclude, const QuantizeOptions& clustering, const std::string& caller) {
        SensitivityOptions options;
        options.quantize = clustering;
        options.sparsities = sweep_values<double>(sparsities, caller + ": sparsities");
        options.bits = sweep_values<int64_t>(bits, caller + ": bits");
        options.layers = names(layers, caller + ": layers");
        options.exclude = names(exclude, caller + ": exclude").value_or(std::vector<std::string>{});
        const auto plan = plan_sensitivity(model, options, caller);
        py::list sweeps;
        for (const auto& sweep : plan.sweeps) {
          py::list values;
          for (const double value : sweep.values) {
            values.append(sweep.kind == "quantize" ? py::object(py::int_(static_cast<int64_t>(value)))
                                                   : py::object(py::float_(value)));
          }
          sweeps.append(py::make_tuple(sweep.kind, values, sweep.layers));
        }
        return py::make_tuple(sweeps, plan.skipped);
      },
      py::arg("model"), py::arg("sparsities"), py::arg("bits"), py::arg("layers"), py::arg("exclude"),
      py::arg("clustering"), py::arg("caller"), "([(kind, values, layer indices)], skipped): see deepcomp/sensitivity.h");
  m.def(
      "sweep_change",
      [](const ModuleEntry& layer, const std::string& kind, double value, const QuantizeOptions& clustering,
         const std::string& caller) {
        const auto change = sweep_change(layer, kind, value, clustering, caller);
        return py::make_tuple(change.weight, change.shared.codebook, change.shared.indices, change.bytes,
                              change.codebooks);
      },
      py::arg("layer"), py::arg("kind"), py::arg("value"), py::arg("clustering"), py::arg("caller"),
      "(weight, codebook, indices, bytes, codebooks) of one sweep point; codebook and indices are None for kind 'prune'");
}

void bind_schedule(py::module_& m) {
  py::class_<PruningTimetable>(m, "PruningTimetable", "which epochs a PruningSchedule prunes at, and with what")
      .def(py::init([](const std::string& criterion, const py::object& final, int64_t steps, int64_t every,
                       int64_t start) {
             PruneOptions options;
             (criterion == "sensitivity" ? options.sensitivity : options.sparsity) =
                 layer_values(final, "PruningSchedule: " + criterion);
             return PruningTimetable(std::move(options), PruningScheduleOptions{steps, every, start});
           }),
           py::arg("criterion"), py::arg("final"), py::arg("steps"), py::arg("every"), py::arg("start"))
      .def("next_epoch", [](PruningTimetable& t) -> py::object {
        const auto round = t.next_epoch();
        return round ? py::cast(*round) : py::none();
      }, "ends an epoch: the round that falls on it (1..steps), or None")
      .def("target", [](const PruningTimetable& t, int64_t round) -> py::object {
        const auto options = t.round_options(round);
        const auto& values = options.sparsity ? *options.sparsity : *options.sensitivity;
        if (const auto* all = std::get_if<double>(&values)) return py::float_(*all);
        return py::cast(std::get<std::map<std::string, double>>(values));
      }, py::arg("round"))
      .def_property_readonly("done", &PruningTimetable::done)
      .def_property_readonly("epoch", &PruningTimetable::epoch)
      .def_property_readonly("rounds_done", &PruningTimetable::rounds_done)
      .def("restore", &PruningTimetable::restore, py::arg("epoch"), py::arg("rounds_done"));
}

}  // namespace

void bind_pipeline(py::module_& m) {
  bind_layers(m);
  bind_calibration(m);
  bind_prune(m);
  bind_quantize(m);
  bind_sensitivity(m);
  bind_schedule(m);
}

}  // namespace deepcomp::bindings
