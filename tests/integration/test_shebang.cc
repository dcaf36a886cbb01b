// Integration tests: servers that are `#!/usr/bin/env` scripts, launched in
// real jails as root and rootless. The planner, Landlock and the kernel must
// agree on what such a line runs.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "harness.hpp"

using namespace it;
namespace fs = std::filesystem;

TEST_CASE("a #!/usr/bin/env -S NAME=VALUE PROG script runs in the jail with the assignment made") {
  for (Mode m : modes()) {
    TempDir app(m);
    // The shell form: needs nothing but what base binds.
    const std::string sh = app.file("server-sh", "#!/usr/bin/env -S FOO=bar sh\necho \"FOO=$FOO\"\n", 0755);
    auto r = run(m, {"run", "base", "--audit-log", "none", "--", sh});
    INFO(mode_name(m) << " sh form: " << r.err);
    CHECK(r.status == 0);
    CHECK(r.out == "FOO=bar\n");

    // Without -S the kernel hands env "FOO=bar sh" as one word: refused
    // before the launch, saying how to write it (the same line with -S runs above).
    const std::string one_word = app.file("server-one-word", "#!/usr/bin/env FOO=bar sh\necho unreachable\n", 0755);
    r = run(m, {"run", "base", "--audit-log", "none", "--", one_word});
    INFO(mode_name(m) << " without -S: " << r.err);
    CHECK(r.status == 126);
    CHECK_THAT(r.err, Catch::Contains("env -S"));
    CHECK(r.out.empty());

    // The node form of the same line, as npm packages write it.
    if (!fs::exists("/usr/bin/node")) {
      WARN("/usr/bin/node is not installed: the node form of the #!/usr/bin/env -S line is not tested");
      continue;
    }
    const std::string js = app.file(
        "server-node", "#!/usr/bin/env -S NODE_OPTIONS=--no-warnings node\nconsole.log('NODE_OPTIONS=' + process.env.NODE_OPTIONS);\n",
        0755);
    r = run(m, {"run", "base", "--audit-log", "none", "--", js});
    INFO(mode_name(m) << " node form: " << r.err);
    CHECK(r.status == 0);
    CHECK(r.out == "NODE_OPTIONS=--no-warnings\n");
    CHECK_THAT(r.err, !Catch::Contains("command not found"));
  }
}
