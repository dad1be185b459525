#include "pipeline/file_report.h"

#include <ostream>

#include "pipeline/table.h"

namespace deepcomp {
namespace {

TensorFileStats stats_of(const codec::TensorRecord& record, const codec::RecordBytes& size) {
  TensorFileStats stats;
  stats.name = record.name;
  stats.kind = codec::kind_name(record.kind);
  stats.shape.assign(record.shape.begin(), record.shape.end());
  stats.weights = static_cast<int64_t>(record.numel());
  stats.kept = static_cast<int64_t>(record.kept());
  if (codec::has_codebook(record.kind)) {
    stats.index_bits = record.index_bits;
    stats.codebook_groups = static_cast<int64_t>(record.codebook_groups);
    stats.index_bits_coded = stats.kept == 0 ? 0.0 : 8.0 * static_cast<double>(size.index_stream) / stats.kept;
  }
  if (codec::is_sparse(record.kind)) {
    stats.gap_bits = record.gap_bits;
    stats.gap_entries = static_cast<int64_t>(size.gap_entries);
    stats.gap_bits_coded =
        size.gap_entries == 0 ? 0.0 : 8.0 * static_cast<double>(size.gap_stream) / static_cast<double>(size.gap_entries);
  }
  stats.name_bytes = static_cast<int64_t>(size.name);
  stats.codebook_bytes = static_cast<int64_t>(size.codebook);
  stats.index_bytes = static_cast<int64_t>(size.index_stream);
  stats.gap_bytes = static_cast<int64_t>(size.gap_stream);
  stats.value_bytes = static_cast<int64_t>(size.values);
  stats.bytes = static_cast<int64_t>(size.total);
  stats.index_bytes_before_huffman = (stats.kept * stats.index_bits + 7) / 8;
  stats.gap_bytes_before_huffman = (stats.gap_entries * stats.gap_bits + 7) / 8;
  stats.bytes_before_huffman =
      stats.codebook_bytes + stats.value_bytes + stats.index_bytes_before_huffman + stats.gap_bytes_before_huffman;
  return stats;
}

std::string bits_cell(int64_t bits, double coded) {
  return bits == 0 ? "-" : std::to_string(bits) + " -> " + fixed(coded, 2);
}

std::string rate_cell(double rate) { return fixed(rate, 1) + "x"; }

}  // namespace

FileReport file_report(const std::vector<codec::TensorRecord>& records, const std::vector<codec::RecordBytes>& sizes,
                       int64_t file_bytes) {
  FileReport report;
  report.file_bytes = file_bytes;
  for (size_t i = 0; i < records.size(); ++i) {
    report.tensors.push_back(stats_of(records[i], sizes[i]));
    report.dense_bytes += 4 * report.tensors.back().weights;
  }
  return report;
}

std::string FileReport::table() const {
  std::vector<TableRow> rows;
  int64_t raw_count = 0, raw_weights = 0, raw_bytes = 0, weights = 0;
  for (const auto& t : tensors) {
    weights += t.weights;
    if (t.kind == "raw") {
      ++raw_count;
      raw_weights += t.weights;
      raw_bytes += t.bytes;
      continue;
    }
    const auto stored_as =
        t.codebook_groups > 1 ? t.kind + " (" + std::to_string(t.codebook_groups) + " codebooks)" : t.kind;
    rows.push_back({t.name, stored_as, shape_text(t.shape), std::to_string(t.weights), fixed(100 * t.kept_fraction(), 2),
                    bits_cell(t.index_bits, t.index_bits_coded), bits_cell(t.gap_bits, t.gap_bits_coded),
                    std::to_string(t.bytes), rate_cell(t.rate_before_huffman()), rate_cell(t.rate())});
  }
  if (raw_count > 0) {
    rows.push_back({"(" + std::to_string(raw_count) + " raw tensors)", "raw", "", std::to_string(raw_weights), "100.00",
                    "-", "-", std::to_string(raw_bytes), "",
                    rate_cell(raw_bytes == 0 ? 0.0 : 4.0 * static_cast<double>(raw_weights) / raw_bytes)});
  }
  return format_table(
      {"tensor", "stored as", "shape", "weights", "kept %", "index bits", "gap bits", "bytes", "rate P+Q", "rate"},
      rows,
      {"total (file)", "", "", std::to_string(weights), "", "", "", std::to_string(file_bytes), "", rate_cell(rate())});
}

std::ostream& operator<<(std::ostream& stream, const FileReport& report) { return stream << report.table(); }

}  // namespace deepcomp
