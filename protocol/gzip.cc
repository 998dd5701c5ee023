#include "protocol/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>

namespace tether::protocol {
namespace {

// windowBits 15 (32 KiB window) + 16: write a gzip header and trailer instead of zlib's.
constexpr int kGzipWindowBits = 15 + 16;
// zlib's default memLevel (deflateInit uses 8 too).
constexpr int kMemLevel = 8;

[[noreturn]] void DieZlib(const char* step, int code) {
  // Only allocation failure or a zlib bug gets here; Gzip has no error channel because the
  // callers (tests, tether-devcp) have nothing sensible to do about either.
  std::fprintf(stderr, "tether: fatal: zlib %s failed (code %d)\n", step, code);
  std::abort();
}

}  // namespace

std::string Gzip(absl::string_view data) {
  z_stream stream{};
  int rc = deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindowBits, kMemLevel,
                        Z_DEFAULT_STRATEGY);
  if (rc != Z_OK) DieZlib("deflateInit2", rc);

  std::string out;
  // deflateBound covers the zlib wrapper only; the gzip header and trailer add 18 bytes.
  out.resize(deflateBound(&stream, static_cast<uLong>(data.size())) + 18);
  size_t produced = 0;
  size_t consumed = 0;
  for (;;) {
    // z_stream counts in uInt, so buffers above 4 GiB go in slices.
    const size_t in_chunk = std::min<size_t>(data.size() - consumed, UINT_MAX);
    if (produced == out.size()) out.resize(out.size() * 2);
    const size_t out_chunk = std::min<size_t>(out.size() - produced, UINT_MAX);
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + consumed));
    stream.avail_in = static_cast<uInt>(in_chunk);
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    stream.avail_out = static_cast<uInt>(out_chunk);
    rc = deflate(&stream, consumed + in_chunk == data.size() ? Z_FINISH : Z_NO_FLUSH);
    consumed += in_chunk - stream.avail_in;
    produced += out_chunk - stream.avail_out;
    if (rc == Z_STREAM_END) break;
    // Z_BUF_ERROR with output space left means no progress is possible: a zlib bug.
    if (rc != Z_OK && !(rc == Z_BUF_ERROR && stream.avail_out == 0)) DieZlib("deflate", rc);
  }
  deflateEnd(&stream);
  out.resize(produced);
  return out;
}

}  // namespace tether::protocol
