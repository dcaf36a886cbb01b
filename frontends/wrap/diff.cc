// The unified diff `mcp-jail wrap --dry-run` prints: Myers' shortest edit
// script over lines, in hunks with 3 lines of context.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "mcpjail/frontends/wrap.hpp"

namespace mcpjail {

namespace {

// Lines with their '\n', so that a last line without one differs from the same
// line with one.
std::vector<std::string_view> split_lines(std::string_view t) {
  std::vector<std::string_view> lines;
  for (std::size_t i = 0; i < t.size();) {
    const auto nl = t.find('\n', i);
    const std::size_t end = nl == std::string_view::npos ? t.size() : nl + 1;
    lines.push_back(t.substr(i, end - i));
    i = end;
  }
  return lines;
}

enum class Op : char { Equal = ' ', Del = '-', Ins = '+' };

struct Step {
  Op op;
  std::size_t a, b;  // line index in before / after (the one that applies)
};

// Myers' O(ND) shortest edit script over the middle [a0, a1) x [b0, b1).
// Gives up (and replaces the whole middle) beyond kMaxD edits.
std::vector<Step> edit_script(const std::vector<std::string_view>& A, const std::vector<std::string_view>& B) {
  std::size_t pre = 0;
  while (pre < A.size() && pre < B.size() && A[pre] == B[pre]) ++pre;
  std::size_t suf = 0;
  while (suf < A.size() - pre && suf < B.size() - pre && A[A.size() - 1 - suf] == B[B.size() - 1 - suf]) ++suf;
  const long N = static_cast<long>(A.size() - pre - suf), M = static_cast<long>(B.size() - pre - suf);
  auto a = [&](long i) { return A[pre + static_cast<std::size_t>(i)]; };
  auto b = [&](long j) { return B[pre + static_cast<std::size_t>(j)]; };

  std::vector<Step> mid;  // built backwards
  constexpr long kMaxD = 2000;
  const long max = N + M;
  std::vector<long> V(static_cast<std::size_t>(2 * max + 3), 0);
  const long off = max + 1;
  std::vector<std::vector<long>> trace;  // trace[d][k + d] = V[k] after step d
  long found = -1;
  for (long d = 0; d <= std::min(max, kMaxD) && found < 0; ++d) {
    for (long k = -d; k <= d; k += 2) {
      long x = (k == -d || (k != d && V[off + k - 1] < V[off + k + 1])) ? V[off + k + 1] : V[off + k - 1] + 1;
      long y = x - k;
      while (x < N && y < M && a(x) == b(y)) ++x, ++y;
      V[off + k] = x;
      if (x >= N && y >= M) found = d;
    }
    trace.emplace_back(V.begin() + off - d, V.begin() + off + d + 1);
  }
  if (found < 0) {
    for (long j = M - 1; j >= 0; --j) mid.push_back({Op::Ins, 0, static_cast<std::size_t>(j)});
    for (long i = N - 1; i >= 0; --i) mid.push_back({Op::Del, static_cast<std::size_t>(i), 0});
  } else {
    long x = N, y = M;
    for (long d = found; d > 0; --d) {
      const auto& P = trace[static_cast<std::size_t>(d - 1)];
      auto pv = [&](long k) { return P[static_cast<std::size_t>(k + d - 1)]; };
      const long k = x - y;
      const long pk = (k == -d || (k != d && pv(k - 1) < pv(k + 1))) ? k + 1 : k - 1;
      const long px = pv(pk), py = px - pk;
      while (x > px && y > py) --x, --y, mid.push_back({Op::Equal, static_cast<std::size_t>(x), static_cast<std::size_t>(y)});
      if (x == px) mid.push_back({Op::Ins, static_cast<std::size_t>(x), static_cast<std::size_t>(--y)});
      else mid.push_back({Op::Del, static_cast<std::size_t>(--x), static_cast<std::size_t>(y)});
    }
    while (x > 0 && y > 0) --x, --y, mid.push_back({Op::Equal, static_cast<std::size_t>(x), static_cast<std::size_t>(y)});
  }
  std::vector<Step> out;
  for (std::size_t i = 0; i < pre; ++i) out.push_back({Op::Equal, i, i});
  for (auto it = mid.rbegin(); it != mid.rend(); ++it) out.push_back({it->op, it->a + pre, it->b + pre});
  for (std::size_t i = 0; i < suf; ++i)
    out.push_back({Op::Equal, A.size() - suf + i, B.size() - suf + i});
  return out;
}

}  // namespace

std::string unified_diff(std::string_view before, std::string_view after, const std::string& from_name,
                         const std::string& to_name) {
  if (before == after) return {};
  const auto A = split_lines(before), B = split_lines(after);
  const auto steps = edit_script(A, B);
  constexpr std::size_t kContext = 3;
  std::string out = "--- " + from_name + "\n+++ " + to_name + "\n";
  // Lines consumed before each step.
  std::vector<std::size_t> apos(steps.size() + 1), bpos(steps.size() + 1);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    apos[i + 1] = apos[i] + (steps[i].op != Op::Ins);
    bpos[i + 1] = bpos[i] + (steps[i].op != Op::Del);
  }
  auto line_of = [&](const Step& s) -> std::string {
    const std::string_view line = s.op == Op::Ins ? B[s.b] : A[s.a];
    std::string l = static_cast<char>(s.op) + std::string(line);
    if (!line.ends_with('\n')) l += "\n\\ No newline at end of file\n";
    return l;
  };
  std::size_t i = 0;
  while (i < steps.size()) {
    std::size_t c = i;
    while (c < steps.size() && steps[c].op == Op::Equal) ++c;
    if (c == steps.size()) break;
    const std::size_t start = c - std::min(kContext, c - i);
    std::size_t last = c, j = c;
    while (j < steps.size() && (steps[j].op != Op::Equal || j - last <= 2 * kContext)) {
      if (steps[j].op != Op::Equal) last = j;
      ++j;
    }
    const std::size_t end = std::min(last + kContext + 1, steps.size());
    const std::size_t na = apos[end] - apos[start], nb = bpos[end] - bpos[start];
    out += "@@ -" + std::to_string(na ? apos[start] + 1 : apos[start]) + "," + std::to_string(na) + " +" +
           std::to_string(nb ? bpos[start] + 1 : bpos[start]) + "," + std::to_string(nb) + " @@\n";
    for (std::size_t k = start; k < end; ++k) out += line_of(steps[k]);
    i = end;
  }
  return out;
}

}  // namespace mcpjail
