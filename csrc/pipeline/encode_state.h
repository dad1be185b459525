// A state dict encoded as save_state writes it, in memory: what a file's size will be before (or
// without) writing it.
#pragma once

#include <deepcomp/io.h>

#include <cstdint>
#include <vector>

#include "codec/container.h"

namespace deepcomp {

struct EncodedState {
  std::vector<codec::TensorRecord> records;  // in file order
  std::vector<codec::RecordBytes> sizes;     // each record's bytes in the file
  std::vector<uint8_t> bytes;                // the whole file
};

// Throws c10::ValueError for bad options or tensors a .dcz cannot hold.
EncodedState encode_state(const NamedTensors& state, const SaveOptions& options, const std::string& caller = "save");

// The gap width save gives a compressed weight by default: 8 bits in conv layers (rank > 2), 5 in
// fully connected ones, the paper's.
int default_gap_bits(const at::Tensor& weight);

// The bytes `record` takes in a file written with default options.
int64_t bytes_in_file(const codec::TensorRecord& record);

}  // namespace deepcomp
