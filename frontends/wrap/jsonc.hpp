// The JSONC scanner of `mcp-jail wrap`: a host configuration may hold // and
// /* */ comments and trailing commas (VS Code writes them). They are blanked
// out byte for byte, so that the text is strict JSON with the same offsets
// and lines; nlohmann-json validates it, and a small scanner over the blanked
// text finds the byte spans of objects' members, so that a rewrite can
// replace exactly those spans and keep every other byte.
#pragma once
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace mcpjail::jsonc {

struct LineCol {
  std::size_t line = 1, column = 1;
};

// 1-based line and column (in UTF-8 characters) of byte offset `pos`.
LineCol line_col(std::string_view text, std::size_t pos);

// The text with comments and trailing commas replaced by spaces (newlines
// kept). Throws WrapError for an unterminated /* comment.
std::string blank(std::string_view text);

// Validates the blanked text as strict JSON; throws WrapError with the line
// and column (in `original`) of the error.
void validate(std::string_view original, const std::string& blanked);

// The scanner below runs over validated, blanked text: every construct is
// well formed.

struct Span {
  std::size_t b = 0, e = 0;  // [b, e)
};

struct Member {
  std::string key;
  Span key_span;
  Span value;
};

bool is_ws(char c);
std::size_t skip_ws(const std::string& s, std::size_t i);
// Index just past the value starting at `i`. Iterative: nesting depth is unbounded.
std::size_t skip_value(const std::string& s, std::size_t i);
// The members of the object at `obj`, in file order.
std::vector<Member> members(const std::string& s, Span obj);
// JSON objects may repeat a key; like JSON.parse, the last one counts.
const Member* find(const std::vector<Member>& ms, std::string_view key);
nlohmann::json value_of(const std::string& s, Span v);
// "an object", "an array", "a string", ... for the value starting with `first`.
const char* kind(char first);

}  // namespace mcpjail::jsonc
