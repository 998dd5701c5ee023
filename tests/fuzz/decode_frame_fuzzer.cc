// libFuzzer harness: the input is a reconfigure frame as the CP sends it (gzip of the JSON
// message), fed to config::DecodeReconfigure. Most mutations break the gzip stream, so this
// harness mainly covers inflate; decode_json_fuzzer reaches the JSON and shape checks.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/decode_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tether::fuzz::CheckDecode(absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
