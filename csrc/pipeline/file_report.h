// The per-tensor report of a .dcz file (deepcomp::FileReport), from its decoded records.
#pragma once

#include <deepcomp/io.h>

#include <vector>

#include "codec/container.h"

namespace deepcomp {

FileReport file_report(const std::vector<codec::TensorRecord>& records, const std::vector<codec::RecordBytes>& sizes,
                       int64_t file_bytes);

}  // namespace deepcomp
