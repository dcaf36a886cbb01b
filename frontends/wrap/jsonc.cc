#include "jsonc.hpp"

#include <algorithm>
#include <cctype>

#include "mcpjail/frontends/wrap.hpp"

namespace mcpjail::jsonc {

using nlohmann::json;

LineCol line_col(std::string_view text, std::size_t pos) {
  LineCol lc;
  pos = std::min(pos, text.size());
  for (std::size_t i = 0; i < pos; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++lc.line;
      lc.column = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++lc.column;
    }
  }
  return lc;
}

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string blank(std::string_view text) {
  std::string out(text);
  const std::size_t n = out.size();
  std::size_t pending_comma = std::string::npos;  // a ',' that may be trailing
  char before_comma = 0;                          // significant char before it
  char last = 0;                                  // last significant char
  auto significant = [&](char c, std::size_t pos) {
    if (pending_comma != std::string::npos && (c == '}' || c == ']') && before_comma != '[' &&
        before_comma != '{' && before_comma != ',')
      out[pending_comma] = ' ';
    pending_comma = std::string::npos;
    if (c == ',') {
      pending_comma = pos;
      before_comma = last;
    }
    last = c;
  };
  std::size_t i = 0;
  while (i < n) {
    const char c = out[i];
    if (is_ws(c)) {
      ++i;
    } else if (c == '/' && i + 1 < n && out[i + 1] == '/') {
      while (i < n && out[i] != '\n') out[i++] = ' ';
    } else if (c == '/' && i + 1 < n && out[i + 1] == '*') {
      const std::size_t start = i;
      const auto end = out.find("*/", i + 2);
      if (end == std::string::npos) {
        const LineCol lc = line_col(text, start);
        throw WrapError("unterminated /* comment", lc.line, lc.column);
      }
      for (; i < end + 2; ++i)
        if (out[i] != '\n' && out[i] != '\r') out[i] = ' ';
    } else if (c == '"') {
      significant(c, i);
      ++i;
      while (i < n && out[i] != '"' && out[i] != '\n') i += out[i] == '\\' ? 2 : 1;
      if (i < n && out[i] == '"') ++i;
    } else {
      significant(c, i);
      ++i;
    }
  }
  return out;
}

namespace {

// Validates strict JSON without building a document.
struct NullSax : nlohmann::json_sax<json> {
  std::size_t error_pos = 0;
  std::string error;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) override {
    error_pos = position;
    error = ex.what();
    return false;
  }
};

}  // namespace

void validate(std::string_view original, const std::string& blanked) {
  NullSax sax;
  if (json::sax_parse(blanked, &sax)) return;
  // "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ..."
  std::string msg = sax.error;
  if (const auto p = msg.find("parse error"); p != std::string::npos)
    if (const auto colon = msg.find(": ", p); colon != std::string::npos) msg = msg.substr(colon + 2);
  // nlohmann's position is that of the last character read, counting from 1
  // (one past the end at the end of the input); point at the start of the
  // token instead, except inside a string, where that character is the culprit.
  std::size_t at = std::min(sax.error_pos > 0 ? sax.error_pos - 1 : 0, blanked.size());
  auto literal = [&](std::size_t i) {
    const char c = blanked[i];
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  };
  if (at < blanked.size() && msg.find("invalid string") == std::string::npos) {
    if (blanked[at] == '"') {
      for (std::size_t j = at; j > 0;) {
        j = blanked.rfind('"', j - 1);
        if (j == std::string::npos) break;
        std::size_t slashes = 0;
        while (j > slashes && blanked[j - 1 - slashes] == '\\') ++slashes;
        if (slashes % 2 == 0) {
          at = j;
          break;
        }
      }
    } else {
      if (!literal(at) && at > 0 && literal(at - 1) && msg.find("invalid literal") != std::string::npos) --at;
      if (literal(at))
        while (at > 0 && literal(at - 1)) --at;
    }
  }
  const LineCol lc = line_col(original, at);
  throw WrapError("invalid JSON: " + msg, lc.line, lc.column);
}

std::size_t skip_ws(const std::string& s, std::size_t i) {
  while (i < s.size() && is_ws(s[i])) ++i;
  return i;
}

namespace {

std::size_t skip_string(const std::string& s, std::size_t i) {
  ++i;
  while (i < s.size() && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
  return std::min(i + 1, s.size());
}

}  // namespace

std::size_t skip_value(const std::string& s, std::size_t i) {
  if (i >= s.size()) return i;
  if (s[i] == '"') return skip_string(s, i);
  if (s[i] == '{' || s[i] == '[') {
    std::size_t depth = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '"') {
        i = skip_string(s, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if ((c == '}' || c == ']') && --depth == 0) return i + 1;
      ++i;
    }
    return i;
  }
  while (i < s.size() && !is_ws(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
  return i;
}

std::vector<Member> members(const std::string& s, Span obj) {
  std::vector<Member> out;
  std::size_t i = skip_ws(s, obj.b + 1);
  while (i < obj.e && s[i] == '"') {
    Member m;
    m.key_span = {i, skip_string(s, i)};
    m.key = json::parse(s.substr(m.key_span.b, m.key_span.e - m.key_span.b)).get<std::string>();
    i = skip_ws(s, m.key_span.e);
    i = skip_ws(s, i + 1);  // ':'
    m.value = {i, skip_value(s, i)};
    out.push_back(std::move(m));
    i = skip_ws(s, m.value.e);
    if (i < obj.e && s[i] == ',') i = skip_ws(s, i + 1);
  }
  return out;
}

const Member* find(const std::vector<Member>& ms, std::string_view key) {
  const Member* found = nullptr;
  for (const auto& m : ms)
    if (m.key == key) found = &m;
  return found;
}

json value_of(const std::string& s, Span v) { return json::parse(s.substr(v.b, v.e - v.b)); }

const char* kind(char first) {
  switch (first) {
    case '{': return "an object";
    case '[': return "an array";
    case '"': return "a string";
    case 't':
    case 'f': return "a boolean";
    case 'n': return "null";
    default: return "a number";
  }
}

}  // namespace mcpjail::jsonc
