#include "pipeline/table.h"

#include <algorithm>
#include <iomanip>
#include <sstream>

namespace deepcomp {

std::string format_table(const TableRow& header, const std::vector<TableRow>& rows, const TableRow& footer) {
  std::vector<size_t> widths(header.size());
  const auto fit = [&](const TableRow& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  };
  fit(header);
  for (const auto& row : rows) fit(row);
  fit(footer);
  std::ostringstream out;
  const auto line = [&](const TableRow& row) {
    for (size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      out << (i ? "  " : "") << (i ? std::right : std::left) << std::setw(static_cast<int>(widths[i])) << cell;
    }
    out << "\n";
  };
  const auto rule = [&] {
    for (size_t i = 0; i < widths.size(); ++i) out << (i ? "  " : "") << std::string(widths[i], '-');
    out << "\n";
  };
  line(header);
  rule();
  for (const auto& row : rows) line(row);
  if (!footer.empty()) {
    rule();
    line(footer);
  }
  return out.str();
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream text;
  for (size_t i = 0; i < shape.size(); ++i) text << (i ? "x" : "") << shape[i];
  return text.str();
}

std::string fixed(double value, int decimals) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(decimals) << value;
  return text.str();
}

}  // namespace deepcomp
