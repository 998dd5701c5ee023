#include "bench/floor.h"

#include <zlib.h>

namespace tether::bench {

bool FloorInflate(absl::string_view frame, std::string& out) {
  z_stream stream{};
  // 15 + 32: zlib or gzip wrapper, detected.
  if (inflateInit2(&stream, 15 + 32) != Z_OK) return false;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(frame.data()));
  stream.avail_in = static_cast<uInt>(frame.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const bool whole = inflate(&stream, Z_FINISH) == Z_STREAM_END && stream.avail_out == 0;
  inflateEnd(&stream);
  return whole;
}

std::unique_ptr<rapidjson::Document> FloorParse(std::string& json) {
  auto document = std::make_unique<rapidjson::Document>();
  document->ParseInsitu(json.data());
  if (document->HasParseError()) return nullptr;
  return document;
}

}  // namespace tether::bench
