// JSON parsing as the decoder needs it: Kong's reading of numbers, a depth cap enforced before the
// tree exists, UTF-8 checked, and where each config_table row is in the text.
//
// Why a module of its own: the decoder parses CP messages with it, and the delta compares rows
// by parsing them the same way, so that "-0" and long doubles mean the same thing to both.
//
// Threading: pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "rapidjson/document.h"

namespace tether::config {

// Where one entity row's JSON is in the message text: [begin, end), from its '{' to its '}'.
struct RowSpan {
  size_t begin = 0;
  size_t end = 0;
};

// Parses `json` in situ into `document` (`json` must stay alive and unmoved while `document` is
// used; its bytes are overwritten). Numbers are read as Kong's cjson reads them (strtod: "-0" is
// a negative zero, integers beyond 64 bits become doubles).
//
// Errors: InvalidArgument for anything that is not JSON in UTF-8 (a NUL outside a string, invalid
// UTF-8, a \u escape of a lone low surrogate, a number beyond a double); ResourceExhausted for
// nesting deeper than `max_depth`, which also bounds the parser's recursion (a few hundred bytes of
// stack per level; the decoder's 128 is far from any thread's stack). Messages name the offset.
//
// With `rows`, it receives the span of every object that is an element of an array that is a
// member of the top-level object's config_table, in document order (the rows of the last
// config_table when the key repeats).
absl::Status ParseJsonInSitu(std::string& json, int max_depth, rapidjson::Document& document,
                             std::vector<RowSpan>* rows = nullptr);

}  // namespace tether::config
