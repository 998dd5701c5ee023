// Compact JSON of a RapidJSON value, byte for byte what rapidjson::Writer writes with its default
// flags: keys in document order, the same escapes, the same number formats.
//
// Why not rapidjson::Writer: the decoder writes every entity row of every config, and the Writer
// copies one character at a time, checking the buffer's room for each, and tracks nesting to
// validate calls that a parsed value cannot get wrong; it was about a quarter of the decode
// (BENCHMARKS.md). This reserves room for a whole string at once and copies its unescaped runs
// whole, checking eight bytes at a time.
//
// The value must hold no NaN or infinity (a parsed one cannot; the Writer would refuse them).
// Recursion is one level per nesting level, so callers cap the depth first (the decoder does).
//
// Threading: pure function, thread-safe.
#pragma once

#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"

namespace tether::config {

// Appends the compact JSON of `value` to `out`.
void AppendCompactJson(const rapidjson::Value& value, rapidjson::StringBuffer& out);

}  // namespace tether::config
