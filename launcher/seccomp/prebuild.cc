// Build step: compiles the seccomp program of every base and action with
// libseccomp (seccomp::compile_with_libseccomp, compile.cc, over the tables of
// policy.cc: the only two files of the layer it links) and writes them as a
// C++ source, so that a launch with one of them (every
// built-in profile) loads it without building it: libseccomp takes a few ms
// of CPU per build, which the launcher otherwise spends on every launch.
//
//   seccomp_prebuild OUTPUT.cc
//
// Where libseccomp cannot build here (a build host whose seccomp(2) is
// blocked), it writes an empty table and says so: the launcher then builds
// every program at run time, as before. The output is rewritten only when
// it changes.
#include <seccomp.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "mcpjail/errors.hpp"
#include "mcpjail/seccomp.hpp"

using namespace mcpjail;

namespace {

const char* action_id(SeccompAction a) {
  switch (a) {
    case SeccompAction::Errno: return "Errno";
    case SeccompAction::Kill: return "Kill";
    case SeccompAction::Log: return "Log";
  }
  return "?";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: seccomp_prebuild OUTPUT.cc\n");
    return 2;
  }
  std::ostringstream arrays, table;
  std::size_t count = 0;
  bool ok = true;
  // Root launches seal memfds through vm.memfd_noexec; rootless ones have the
  // supervisor perform memfd_create (SeccompPlan::seal_memfd): both variants.
  for (const bool seal : {false, true}) {
  for (const char* base : {"default", "strict"}) {
    for (auto action : {SeccompAction::Errno, SeccompAction::Kill, SeccompAction::Log}) {
      SeccompPlan plan;
      plan.base = base;
      plan.action = action;
      plan.seal_memfd = seal;
      plan.watch = true;  // prebuilt() serves only plans with the watch on
      seccomp::Program p;
      try {
        p = seccomp::compile_with_libseccomp(plan);
      } catch (const LaunchError& e) {
        std::fprintf(stderr,
                     "seccomp_prebuild: libseccomp cannot build the %s/%s%s program on this build host (%s); "
                     "mcp-jail will build every filter at run time\n",
                     base, action_id(action), seal ? " (memfd sealing)" : "", e.what());
        ok = false;
        break;
      }
      const std::string name = std::string("k_") + base + "_" + action_id(action) + (seal ? "_sealed" : "");
      arrays << "const sock_filter " << name << "[] = {\n";
      for (const auto& f : p.code)
        arrays << "    {0x" << std::hex << f.code << ", " << std::dec << unsigned(f.jt) << ", " << unsigned(f.jf)
               << ", 0x" << std::hex << f.k << std::dec << "},\n";
      arrays << "};\n";
      table << "    {\"" << base << "\", SeccompAction::" << action_id(action) << ", " << name << ", "
            << p.code.size() << ", " << (p.listener ? "true" : "false") << ", " << (seal ? "true" : "false") << "},\n";
      ++count;
    }
    if (!ok) break;
  }
    if (!ok) break;
  }
  const scmp_version* v = seccomp_version();
  std::ostringstream out;
  out << "// Generated at build time by seccomp_prebuild (launcher/seccomp/prebuild.cc)\n"
         "// from launcher/seccomp/policy.cc: do not edit.\n"
         "#include \"mcpjail/seccomp.hpp\"\n\n"
         "namespace mcpjail::seccomp {\n";
  if (ok && count > 0) {
    out << "namespace {\n" << arrays.str() << "}  // namespace\n\n"
        << "const PrebuiltProgram kPrebuilt[] = {\n" << table.str() << "};\n"
        << "const std::size_t kPrebuiltCount = " << count << ";\n";
  } else {
    out << "const PrebuiltProgram kPrebuilt[1] = {};\n"
           "const std::size_t kPrebuiltCount = 0;\n";
  }
  out << "const unsigned kPrebuiltLibseccomp[3] = {" << (v ? v->major : 0) << ", " << (v ? v->minor : 0) << ", "
      << (v ? v->micro : 0) << "};\n"
      << "}  // namespace mcpjail::seccomp\n";
  const std::string text = out.str();
  {
    std::ifstream in(argv[1]);
    std::stringstream old;
    old << in.rdbuf();
    if (in && old.str() == text) return 0;
  }
  std::ofstream f(argv[1], std::ios::trunc);
  f << text;
  if (!f) {
    std::fprintf(stderr, "seccomp_prebuild: cannot write %s\n", argv[1]);
    return 1;
  }
  return 0;
}
