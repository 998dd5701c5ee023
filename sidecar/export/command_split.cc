// Shell-like splitting of a command line (see command_split.h).
#include "sidecar/export/command_split.h"

#include "absl/strings/str_cat.h"

namespace tether::exporter {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\n'; }

// Characters a backslash escapes inside double quotes (POSIX 2.2.3).
bool EscapableInDoubleQuotes(char c) {
  return c == '$' || c == '`' || c == '"' || c == '\\' || c == '\n';
}

}  // namespace

absl::StatusOr<std::vector<std::string>> SplitCommandLine(absl::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;  // an empty quoted word ('') is still a word
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (IsBlank(c)) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    if (c == '\\') {
      if (++i == line.size()) return absl::InvalidArgumentError("ends with a backslash");
      if (line[i] == '\n') continue;
      word.push_back(line[i]);
    } else if (c == '\'') {
      const size_t end = line.find('\'', i + 1);
      if (end == absl::string_view::npos) {
        return absl::InvalidArgumentError("unterminated single quote");
      }
      absl::StrAppend(&word, line.substr(i + 1, end - i - 1));
      i = end;
    } else if (c == '"') {
      for (++i;; ++i) {
        if (i == line.size()) return absl::InvalidArgumentError("unterminated double quote");
        if (line[i] == '"') break;
        if (line[i] == '\\' && i + 1 < line.size() && EscapableInDoubleQuotes(line[i + 1])) {
          if (line[++i] != '\n') word.push_back(line[i]);
        } else {
          word.push_back(line[i]);
        }
      }
    } else {
      word.push_back(c);
    }
    in_word = true;
  }
  if (in_word) words.push_back(std::move(word));
  if (words.empty()) return absl::InvalidArgumentError("no command");
  return words;
}

}  // namespace tether::exporter
