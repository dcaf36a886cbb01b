// The [pin] section of a profile: rendered from pins, and put in the place of
// the old one in the profile's text, every other byte kept.
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "mcpjail/frontends/pin.hpp"
#include "mcpjail/frontends/toml_text.hpp"
#include "mcpjail/text.hpp"

namespace mcpjail::pin {

namespace {

struct Line {
  std::size_t begin, end;  // [begin, end) including the newline
  bool header = false;
  bool pin = false;        // a header whose first key is pin
  bool filler = false;     // blank or comment only (outside any string or value)
};

// The first key of a table header line ("[pin.files]" -> "pin").
std::string header_key(std::string_view l) {
  std::size_t i = l.find('[') + 1;
  if (i < l.size() && l[i] == '[') ++i;
  while (i < l.size() && (l[i] == ' ' || l[i] == '\t')) ++i;
  if (i >= l.size()) return "";
  std::string key;
  if (l[i] == '"' || l[i] == '\'') {
    const char q = l[i++];
    while (i < l.size() && l[i] != q) {
      if (q == '"' && l[i] == '\\' && i + 1 < l.size()) ++i;
      key += l[i++];
    }
    return key;
  }
  while (i < l.size() && (std::isalnum(static_cast<unsigned char>(l[i])) || l[i] == '_' || l[i] == '-')) key += l[i++];
  return key;
}

// Splits a TOML text into lines and finds the table headers, skipping what
// is inside multi-line strings and multi-line arrays or inline tables.
std::vector<Line> scan_lines(std::string_view text) {
  std::vector<Line> lines;
  int depth = 0;           // open [ and { of a value
  std::string_view ml;     // the closing quotes of an open multi-line string
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    const std::string_view l = text.substr(pos, end - pos);
    Line line{pos, end};
    const auto first = l.find_first_not_of(" \t\r\n");
    if (ml.empty() && depth == 0) {
      if (first == std::string_view::npos || l[first] == '#') line.filler = true;
      else if (l[first] == '[') {
        line.header = true;
        line.pin = header_key(l.substr(first)) == "pin";
      }
    }
    if (!line.header) {
      std::size_t i = 0;
      while (i < l.size()) {
        if (!ml.empty()) {
          if (ml == "\"\"\"" && l[i] == '\\') {
            i += 2;
            continue;
          }
          if (l.substr(i, 3) == ml) {
            // a closing delimiter may be followed by up to two more quotes
            i += 3;
            while (i < l.size() && l[i] == ml[0]) ++i;
            ml = {};
            continue;
          }
          ++i;
          continue;
        }
        const char c = l[i];
        if (c == '#') break;
        if (c == '"' || c == '\'') {
          if (l.substr(i, 3) == std::string(3, c)) {
            ml = c == '"' ? std::string_view("\"\"\"") : std::string_view("'''");
            i += 3;
            continue;
          }
          ++i;
          while (i < l.size() && l[i] != c && l[i] != '\n') {
            if (c == '"' && l[i] == '\\') ++i;
            ++i;
          }
          ++i;
          continue;
        }
        if (c == '[' || c == '{') ++depth;
        if (c == ']' || c == '}') depth = std::max(0, depth - 1);
        ++i;
      }
    }
    lines.push_back(line);
    pos = end;
  }
  return lines;
}


}  // namespace

std::string render_section(const Pins& pins, const std::string& comment) {
  std::string s = "[pin]\n";
  if (!comment.empty()) s += "# " + one_line(comment) + "\n";
  if (!pins.files.empty()) {
    s += "files = [\n";
    for (const auto& f : pins.files)
      s += "  { path = " + toml_text::quote(f.path, true) + ", sha256 = " + toml_text::quote(f.sha256, false) + " },\n";
    s += "]\n";
  }
  if (!pins.trees.empty()) {
    s += "trees = [\n";
    for (const auto& t : pins.trees) {
      s += "  { path = " + toml_text::quote(t.path, true) + ", sha256 = " + toml_text::quote(t.sha256, false);
      if (t.files) s += ", files = " + std::to_string(*t.files);
      if (!t.exclude.empty()) {
        s += ", exclude = [";
        for (std::size_t i = 0; i < t.exclude.size(); ++i) s += (i ? ", " : "") + toml_text::quote(t.exclude[i], false);
        s += "]";
      }
      s += " },\n";
    }
    s += "]\n";
  }
  return s;
}

std::string replace_section(std::string_view text, std::string_view section) {
  const auto lines = scan_lines(text);
  // Lines that belong to a pin table: from its header to the next header that
  // is not pin.*, less the blank and comment lines just before that header
  // (they introduce what follows).
  std::vector<bool> drop(lines.size(), false);
  bool any = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!lines[i].header || !lines[i].pin) continue;
    std::size_t j = i + 1;
    while (j < lines.size() && !(lines[j].header && !lines[j].pin)) ++j;
    std::size_t last = j;
    while (last > i + 1 && lines[last - 1].filler && !(lines[last - 1].header)) --last;
    for (std::size_t k = i; k < last; ++k) drop[k] = true;
    any = true;
    i = j - 1;
  }
  std::string out;
  out.reserve(text.size() + section.size() + 2);
  if (!any) {
    out = text;
    if (!out.empty() && out.back() != '\n') out += '\n';
    const bool blank_before = out.empty() || out.ends_with("\n\n");
    if (!blank_before) out += '\n';
    out += section;
    return out;
  }
  bool placed = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (drop[i]) {
      if (!placed) {
        out += section;
        placed = true;
      }
      continue;
    }
    out += text.substr(lines[i].begin, lines[i].end - lines[i].begin);
  }
  return out;
}

}  // namespace mcpjail::pin
