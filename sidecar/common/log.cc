#include "sidecar/common/log.h"

#include <spdlog/formatter.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace tether::log {
namespace {

// Each format has its own logger over one shared sink, and the formatter tells them apart by
// name: a line is rendered whole in one format even while SetFormat switches.
constexpr char kTextLogger[] = "text";
constexpr char kJsonLogger[] = "json";

std::atomic<Format> g_format{Format::kText};

spdlog::level::level_enum ToSpdlog(Level level) {
  switch (level) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

// Our names, not spdlog's ("warning"), so that both formats and --log-level use one vocabulary.
absl::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    default:
      return "info";
  }
}

absl::string_view View(spdlog::string_view_t s) { return absl::string_view(s.data(), s.size()); }

// Appends `s` with each maximal ill-formed UTF-8 subpart replaced by U+FFFD (Unicode §3.9, Table
// 3-7 lists the well-formed sequences), so that a JSON line stays valid UTF-8.
void AppendValidUtf8(std::string& out, absl::string_view s) {
  constexpr absl::string_view kReplacement = "\xEF\xBF\xBD";
  size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      out.push_back(s[i++]);
      continue;
    }
    size_t length = 0;
    unsigned char second_min = 0x80, second_max = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) second_min = 0xA0;  // overlong
      if (lead == 0xED) second_max = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) second_min = 0x90;  // overlong
      if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
    }
    size_t valid = length == 0 ? 0 : 1;
    while (valid < length && i + valid < s.size()) {
      const auto c = static_cast<unsigned char>(s[i + valid]);
      const unsigned char min = valid == 1 ? second_min : 0x80;
      const unsigned char max = valid == 1 ? second_max : 0xBF;
      if (c < min || c > max) break;
      ++valid;
    }
    if (length != 0 && valid == length) {
      out.append(s.data() + i, length);
      i += length;
    } else {
      out.append(kReplacement.data(), kReplacement.size());
      i += std::max<size_t>(valid, 1);
    }
  }
}

// Appends `s` as a JSON string; RapidJSON's Writer escapes quotes, backslashes and control
// characters.
void AppendJsonString(std::string& out, absl::string_view s) {
  std::string valid;
  AppendValidUtf8(valid, s);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
  out.append(buffer.GetString(), buffer.GetSize());
}

// Values with spaces, quotes, '=' or control characters are quoted and escaped, so that a line
// stays one line and machine-splittable.
void AppendTextValue(std::string& out, absl::string_view value) {
  bool quote = value.empty();
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || absl::ascii_iscntrl(c)) quote = true;
  }
  if (!quote) {
    out.append(value.data(), value.size());
    return;
  }
  out.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else if (c == '\r') {
      out.append("\\r");
    } else if (c == '\t') {
      out.append("\\t");
    } else if (absl::ascii_iscntrl(c)) {
      constexpr char kHex[] = "0123456789abcdef";
      const auto byte = static_cast<unsigned char>(c);
      out.append({'\\', 'x', kHex[byte >> 4], kHex[byte & 0xF]});
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

// Everything after the time and level: "cp: message k=v" in text, "\"component\":..." (the
// members after time and level) in json.
std::string RenderBody(Format format, absl::string_view component, absl::string_view message,
                       Fields fields) {
  std::string body;
  switch (format) {
    case Format::kText:
      body = absl::StrCat(component, ": ", message);
      for (const Field& f : fields) {
        absl::StrAppend(&body, " ", f.key, "=");
        AppendTextValue(body, f.value);
      }
      break;
    case Format::kJson:
      body = "\"component\":";
      AppendJsonString(body, component);
      body.append(",\"message\":");
      AppendJsonString(body, message);
      for (const Field& f : fields) {
        body.push_back(',');
        AppendJsonString(body, f.key);
        body.push_back(':');
        AppendJsonString(body, f.value);
      }
      break;
  }
  return body;
}

// Adds the time spdlog took when the line was logged and the level around the rendered body.
class LineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string time =
        absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromChrono(msg.time), absl::UTCTimeZone());
    const absl::string_view level = LevelName(msg.level);
    const absl::string_view body = View(msg.payload);
    const std::string line =
        View(msg.logger_name) == kJsonLogger
            ? absl::StrCat("{\"time\":\"", time, "\",\"level\":\"", level, "\",", body, "}\n")
            : absl::StrCat(time, " ", level, " ", body, "\n");
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>();
  }
};

struct Loggers {
  Loggers() {
    // The _mt sink writes each line with one fwrite and a flush under a mutex: no interleaving.
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_formatter(std::make_unique<LineFormatter>());
    text = std::make_shared<spdlog::logger>(kTextLogger, sink);
    json = std::make_shared<spdlog::logger>(kJsonLogger, sink);
    text->set_level(spdlog::level::info);
    json->set_level(spdlog::level::info);
  }

  std::shared_ptr<spdlog::logger> text;
  std::shared_ptr<spdlog::logger> json;
};

// Never destroyed, so that a thread still logging during static destruction finds it. Not in
// spdlog's registry: nothing else should find these loggers by name.
Loggers& GetLoggers() {
  static Loggers* const loggers = new Loggers();
  return *loggers;
}

}  // namespace

void SetLevel(Level level) {
  GetLoggers().text->set_level(ToSpdlog(level));
  GetLoggers().json->set_level(ToSpdlog(level));
}

absl::StatusOr<Level> ParseLevel(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "debug") return Level::kDebug;
  if (lower == "info") return Level::kInfo;
  if (lower == "warn" || lower == "warning") return Level::kWarn;
  if (lower == "error") return Level::kError;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level \"", name, "\" (want debug, info, warn or error)"));
}

bool Enabled(Level level) { return GetLoggers().text->should_log(ToSpdlog(level)); }

void SetFormat(Format format) { g_format.store(format, std::memory_order_relaxed); }

absl::StatusOr<Format> ParseFormat(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "text") return Format::kText;
  if (lower == "json") return Format::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log format \"", name, "\" (want text or json)"));
}

void Write(Level level, absl::string_view component, absl::string_view message, Fields fields) {
  try {
    const Format format = g_format.load(std::memory_order_relaxed);
    spdlog::logger& logger = format == Format::kJson ? *GetLoggers().json : *GetLoggers().text;
    const spdlog::level::level_enum spd_level = ToSpdlog(level);
    if (!logger.should_log(spd_level)) return;
    const std::string body = RenderBody(format, component, message, fields);
    // spdlog catches what its sink throws and reports it on stderr itself.
    logger.log(spd_level, spdlog::string_view_t(body.data(), body.size()));
  } catch (const std::exception& e) {
    // Only allocation can fail here; a lost line must not take its caller down.
    std::fprintf(stderr, "tether: log line dropped: %s\n", e.what());
  }
}

}  // namespace tether::log
