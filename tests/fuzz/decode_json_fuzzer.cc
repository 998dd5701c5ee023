// libFuzzer harness: the input is the inflated reconfigure message; the harness gzips it as the
// CP would, so that mutations reach the JSON parser and the shape checks instead of dying in the
// gzip header (decode_frame_fuzzer covers that).
#include <cstddef>
#include <cstdint>

#include "protocol/gzip.h"
#include "tests/fuzz/decode_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tether::fuzz::CheckDecode(
      tether::protocol::Gzip(absl::string_view(reinterpret_cast<const char*>(data), size)));
  return 0;
}
