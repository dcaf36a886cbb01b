// A classic-BPF interpreter for seccomp programs, for the tests that check
// what a compiled filter answers to synthetic calls (tests/seccomp, the
// exported profile in tests/export). The cases it does not know fail the test.
#pragma once
#include <catch2/catch.hpp>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace mcpjail::test {

inline std::uint32_t run_bpf(const std::vector<sock_filter>& prog, const seccomp_data& d) {
  std::uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = {};
  // Plain checks, not REQUIRE: the ioctl and socket tables run this a few
  // hundred thousand times, and each Catch2 assertion costs more than the
  // instruction it checks.
  auto load = [&](std::uint32_t k) {
    if (k % 4 != 0 || k + 4 > sizeof d) FAIL("BPF_LD of offset " << k << ", not a 32-bit word of seccomp_data");
    std::uint32_t v;
    std::memcpy(&v, reinterpret_cast<const char*>(&d) + k, 4);
    return v;
  };
  for (std::size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& f = prog[pc];
    const std::uint32_t src = (BPF_SRC(f.code) == BPF_X) ? X : f.k;
    switch (BPF_CLASS(f.code)) {
      case BPF_LD:
        if (BPF_MODE(f.code) == BPF_ABS && BPF_SIZE(f.code) == BPF_W) A = load(f.k);
        else if (BPF_MODE(f.code) == BPF_IMM) A = f.k;
        else if (BPF_MODE(f.code) == BPF_MEM) A = M[f.k];
        else FAIL("unsupported BPF_LD mode " << f.code);
        break;
      case BPF_LDX:
        if (BPF_MODE(f.code) == BPF_IMM) X = f.k;
        else if (BPF_MODE(f.code) == BPF_MEM) X = M[f.k];
        else FAIL("unsupported BPF_LDX mode " << f.code);
        break;
      case BPF_ST: M[f.k] = A; break;
      case BPF_STX: M[f.k] = X; break;
      case BPF_ALU:
        switch (BPF_OP(f.code)) {
          case BPF_ADD: A += src; break;
          case BPF_SUB: A -= src; break;
          case BPF_MUL: A *= src; break;
          case BPF_AND: A &= src; break;
          case BPF_OR: A |= src; break;
          case BPF_XOR: A ^= src; break;
          case BPF_LSH: A <<= src; break;
          case BPF_RSH: A >>= src; break;
          case BPF_NEG: A = -A; break;
          default: FAIL("unsupported ALU op " << f.code);
        }
        break;
      case BPF_JMP: {
        if (BPF_OP(f.code) == BPF_JA) {
          pc += f.k;
          break;
        }
        bool t = false;
        switch (BPF_OP(f.code)) {
          case BPF_JEQ: t = A == src; break;
          case BPF_JGT: t = A > src; break;
          case BPF_JGE: t = A >= src; break;
          case BPF_JSET: t = (A & src) != 0; break;
          default: FAIL("unsupported JMP op " << f.code);
        }
        pc += t ? f.jt : f.jf;
        break;
      }
      case BPF_RET: return BPF_RVAL(f.code) == BPF_A ? A : f.k;
      case BPF_MISC:
        if (BPF_MISCOP(f.code) == BPF_TAX) X = A;
        else A = X;
        break;
      default: FAIL("unsupported BPF class " << f.code);
    }
  }
  FAIL("program fell off its end");
  return 0;
}

}  // namespace mcpjail::test
