// See empty_pong_stream.h: the frame parser that empties pongs.
#include "tools/devcp/empty_pong_stream.h"

#include <algorithm>

namespace tether::devcp {
namespace {

constexpr unsigned char kOpcodeMask = 0x0F;
constexpr unsigned char kPongOpcode = 0x0A;
constexpr unsigned char kMaskBit = 0x80;
constexpr unsigned char kLengthMask = 0x7F;
constexpr unsigned char kLength16 = 126;  // a 16-bit length follows
constexpr unsigned char kLength64 = 127;  // a 64-bit length follows
constexpr int kMaskKeyBytes = 4;
// The length byte of an empty pong: unmasked, masked.
constexpr unsigned char kEmptyLength[] = {0x00, kMaskBit};

// Appends `n` bytes at `p`, growing the last piece when they follow it in memory, so that a run
// of untouched frames stays one buffer.
void Keep(const unsigned char* p, std::size_t n, std::vector<net::const_buffer>& out) {
  if (n == 0) return;
  if (!out.empty()) {
    net::const_buffer& last = out.back();
    if (static_cast<const unsigned char*>(last.data()) + last.size() == p) {
      last = net::const_buffer(last.data(), last.size() + n);
      return;
    }
  }
  out.emplace_back(p, n);
}

}  // namespace

void PongEmptier::NextPart() {
  if (extended_left_ > 0) {
    part_ = Part::kExtendedLength;
  } else if (mask_left_ > 0) {
    part_ = Part::kMaskKey;
  } else if (payload_left_ > 0) {
    part_ = Part::kPayload;
  } else {
    part_ = Part::kFirstByte;
  }
}

void PongEmptier::Rewrite(net::const_buffer in, std::vector<net::const_buffer>& out) {
  const auto* p = static_cast<const unsigned char*>(in.data());
  const auto* const end = p + in.size();
  while (p < end) {
    switch (part_) {
      case Part::kFirstByte:
        pong_ = (*p & kOpcodeMask) == kPongOpcode;
        Keep(p, 1, out);
        part_ = Part::kLengthByte;
        ++p;
        break;
      case Part::kLengthByte: {
        const bool masked = (*p & kMaskBit) != 0;
        const unsigned char length = *p & kLengthMask;
        if (pong_) {
          out.emplace_back(&kEmptyLength[masked ? 1 : 0], 1);
        } else {
          Keep(p, 1, out);
        }
        extended_left_ = length == kLength16 ? 2 : length == kLength64 ? 8 : 0;
        mask_left_ = masked ? kMaskKeyBytes : 0;
        payload_left_ = extended_left_ > 0 ? 0 : length;
        ++p;
        NextPart();
        break;
      }
      case Part::kExtendedLength:
        // A pong may not have one (control payloads are at most 125 bytes); if it had, it goes
        // with the payload it measures.
        if (!pong_) Keep(p, 1, out);
        payload_left_ = (payload_left_ << 8) | *p;
        --extended_left_;
        ++p;
        NextPart();
        break;
      case Part::kMaskKey:
        Keep(p, 1, out);
        --mask_left_;
        ++p;
        NextPart();
        break;
      case Part::kPayload: {
        const std::size_t n = static_cast<std::size_t>(
            std::min<uint64_t>(payload_left_, static_cast<uint64_t>(end - p)));
        if (!pong_) Keep(p, n, out);
        payload_left_ -= n;
        p += n;
        NextPart();
        break;
      }
    }
  }
}

}  // namespace tether::devcp
