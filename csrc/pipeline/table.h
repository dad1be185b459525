// Plain-text tables for the reports (Python's deepcomp.report uses this one through _C): columns sized
// to fit, the first left-aligned and the others right-aligned, an optional footer below a rule.
#pragma once

#include <string>
#include <vector>

namespace deepcomp {

using TableRow = std::vector<std::string>;

std::string format_table(const TableRow& header, const std::vector<TableRow>& rows, const TableRow& footer = {});

// "64x1x5x5"
std::string shape_text(const std::vector<int64_t>& shape);
// value with `decimals` digits after the point
std::string fixed(double value, int decimals);

}  // namespace deepcomp
