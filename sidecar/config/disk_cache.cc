#include "sidecar/config/disk_cache.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <initializer_list>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "sidecar/common/file_util.h"

namespace tether::config {
namespace {

constexpr char kMagic[8] = {'T', 'E', 'T', 'H', 'E', 'R', 'C', '\n'};
constexpr size_t kFixedHeaderBytes = sizeof(kMagic) + 4 + 4;
constexpr size_t kDigestBytes = SHA256_DIGEST_LENGTH;
// The largest cache file read back: a frame is at most --cluster-max-payload
// (16 MiB by default, configurable), so this only guards against reading
// something absurd into memory.
constexpr size_t kMaxFileBytes = size_t{1} << 31;

void AppendU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t ReadU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// Of the parts one after the other.
std::string Sha256(std::initializer_list<absl::string_view> parts) {
  std::string digest(kDigestBytes, '\0');
  const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> context(EVP_MD_CTX_new(),
                                                                   EVP_MD_CTX_free);
  bool ok = context != nullptr && EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) == 1;
  for (absl::string_view part : parts) {
    ok = ok && EVP_DigestUpdate(context.get(), part.data(), part.size()) == 1;
  }
  ok = ok && EVP_DigestFinal_ex(context.get(), reinterpret_cast<unsigned char*>(digest.data()),
                                nullptr) == 1;
  // Only allocation can fail here; an empty digest then fails every check.
  if (!ok) digest.clear();
  return digest;
}

std::string HeaderJson(const CachedConfig& c) {
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> w(out);
  w.StartObject();
  w.Key("config_hash");
  w.String(c.config_hash.data(), c.config_hash.size());
  w.Key("hashes");
  w.StartObject();
  for (const auto& [k, v] : c.hashes) {
    w.Key(k.data(), k.size());
    w.String(v.data(), v.size());
  }
  w.EndObject();
  w.Key("received_at");
  w.Int64(absl::ToUnixNanos(c.received_at));
  w.Key("written_at");
  w.Int64(absl::ToUnixNanos(c.written_at));
  if (c.cp_timestamp) {
    w.Key("cp_timestamp");
    w.Double(*c.cp_timestamp);
  }
  w.Key("frame_bytes");
  w.Uint64(c.frame.size());
  w.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

absl::Status Corrupt(const std::string& path, absl::string_view why) {
  return absl::DataLossError(absl::StrCat("config cache ", path, " is unusable: ", why));
}

}  // namespace

DiskCache::DiskCache(std::string dir)
    : dir_(std::move(dir)), path_(absl::StrCat(dir_, "/", kFileName)) {}

absl::Status DiskCache::CheckDirIsPrivate() const {
  struct stat st {};
  if (::stat(dir_.c_str(), &st) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("data dir ", dir_, ": cannot stat"));
  }
  const uid_t uid = ::geteuid();
  const auto refuse = [&](absl::string_view why) {
    return absl::FailedPreconditionError(
        absl::StrCat("data dir ", dir_, " ", why,
                     ", so another user could plant or replace the config cache: "
                     "it is neither read nor written; make the dir owned by uid ",
                     uid,
                     " and not writable by group or others (chmod go-w), or point "
                     "--data-dir at a path tether "
                     "creates itself"));
  };
  if (st.st_uid != uid) return refuse(absl::StrCat("is owned by uid ", st.st_uid));
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return refuse(
        absl::StrFormat("is writable by group or others (mode %04o)", st.st_mode & 07777));
  }
  return absl::OkStatus();
}

absl::Status DiskCache::Write(CachedConfig config) {
  if (absl::Status st = CheckDirIsPrivate(); !st.ok()) return st;
  config.written_at = absl::Now();
  const std::string header = HeaderJson(config);
  // Written in parts: the frame is the bulk, and is not copied.
  std::string head;
  head.reserve(kFixedHeaderBytes + header.size());
  head.append(kMagic, sizeof(kMagic));
  AppendU32(head, kFormatVersion);
  AppendU32(head, static_cast<uint32_t>(header.size()));
  head.append(header);
  const std::string digest = Sha256({head, config.frame});
  if (digest.empty()) return absl::ResourceExhaustedError("cannot compute the cache's digest");
  return WriteFileAtomically(path_, {head, config.frame, digest}, 0600);
}

absl::StatusOr<CachedConfig> DiskCache::Read() const {
  if (absl::Status st = CheckDirIsPrivate(); !st.ok()) return st;
  absl::StatusOr<std::string> file = ReadFileCapped(path_, kMaxFileBytes);
  if (!file.ok()) {
    if (absl::IsNotFound(file.status())) return file.status();
    return Corrupt(path_, file.status().message());
  }
  if (file->size() < kFixedHeaderBytes + kDigestBytes ||
      std::memcmp(file->data(), kMagic, sizeof(kMagic)) != 0) {
    return Corrupt(path_, "not a tether config cache");
  }
  const size_t body = file->size() - kDigestBytes;
  if (Sha256({absl::string_view(*file).substr(0, body)}) != file->substr(body)) {
    return Corrupt(path_, "checksum mismatch (torn or corrupted write)");
  }
  const uint32_t version = ReadU32(file->data() + sizeof(kMagic));
  if (version != kFormatVersion) {
    return Corrupt(path_, absl::StrCat("format version ", version, ", want ", kFormatVersion));
  }
  const size_t header_bytes = ReadU32(file->data() + sizeof(kMagic) + 4);
  if (header_bytes > body - kFixedHeaderBytes) return Corrupt(path_, "header length");
  rapidjson::Document header;
  header.Parse(file->data() + kFixedHeaderBytes, header_bytes);
  if (header.HasParseError() || !header.IsObject() || !header.HasMember("config_hash") ||
      !header["config_hash"].IsString() || !header.HasMember("frame_bytes") ||
      !header["frame_bytes"].IsUint64() || !header.HasMember("received_at") ||
      !header["received_at"].IsInt64() || !header.HasMember("written_at") ||
      !header["written_at"].IsInt64()) {
    return Corrupt(path_, "bad header");
  }
  const size_t frame_offset = kFixedHeaderBytes + header_bytes;
  if (header["frame_bytes"].GetUint64() != body - frame_offset) {
    return Corrupt(path_, "frame length");
  }
  CachedConfig c;
  c.frame = file->substr(frame_offset, body - frame_offset);
  c.config_hash = header["config_hash"].GetString();
  c.received_at = absl::FromUnixNanos(header["received_at"].GetInt64());
  c.written_at = absl::FromUnixNanos(header["written_at"].GetInt64());
  if (header.HasMember("cp_timestamp") && header["cp_timestamp"].IsNumber()) {
    c.cp_timestamp = header["cp_timestamp"].GetDouble();
  }
  if (header.HasMember("hashes") && header["hashes"].IsObject()) {
    for (const auto& m : header["hashes"].GetObject()) {
      if (m.value.IsString()) c.hashes[m.name.GetString()] = m.value.GetString();
    }
  }
  return c;
}

absl::StatusOr<std::string> DiskCache::MoveAside() const {
  const std::string aside = absl::StrCat(path_, ".corrupt-", absl::ToUnixSeconds(absl::Now()));
  if (::rename(path_.c_str(), aside.c_str()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot move ", path_, " aside"));
  }
  return aside;
}

}  // namespace tether::config
