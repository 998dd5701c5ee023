// The floor tether's decode is held against (BENCHMARKS.md, issues #6 and #13): zlib inflating
// the gzipped message into a buffer already of the right size, then a RapidJSON DOM parse in
// situ with default flags. Nothing tether does can beat both stages done this plainly, one after
// the other; tether-bench-stages times each stage with Google Benchmark, tether-load times them
// on the frame it pushes.
//
// Threading: pure functions.
#pragma once

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace tether::bench {

// Inflates the gzip `frame` into `out`, which must already be as large as the inflated message.
// False when the frame is not a gzip stream of exactly that size.
bool FloorInflate(absl::string_view frame, std::string& out);

// Parses `json` in situ (overwriting it; it must outlive the result) into a DOM, or null when it
// is not JSON. The caller frees the DOM, so that timings can leave the freeing out.
std::unique_ptr<rapidjson::Document> FloorParse(std::string& json);

}  // namespace tether::bench
