// Python servers (launcher/plan/runtime_python.cc): pyvenv.cfg, the
// interpreter's command line, venv detection and the venv rule of the
// command's own files, on a scratch tree with a stand-in installation.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "mcpjail/plan/runtime_python.hpp"
#include "../support/plan_pass.hpp"
#include "../support/scratch.hpp"

using namespace mcpjail;
using namespace mcpjail::planning;
namespace fs = std::filesystem;
namespace py = mcpjail::planning::python;

namespace {

// A Python installation (py/), a venv made from it (venv/, its bin/python3
// a symlink to py/bin/python3), a console script, and a user's home.
struct PythonWorld : support::ScratchDir {
  PythonWorld() : ScratchDir("python") {
    fs::create_directories(d / "home/alice");
    fs::create_directories(d / "ws");
    write("py/bin/python3.11", "\x7f" "ELF stand-in\n");
    fs::create_symlink("python3.11", d / "py/bin/python3");
    write("py/lib/python3.11/os.py", "");
    fs::create_directories(d / "py/lib/python3.11/site-packages");
    venv("venv", p("py/bin"));
  }
  // A venv at `rel` whose pyvenv.cfg names `home`, with a console script.
  void venv(const std::string& rel, const std::string& home, const std::string& extra = "") const {
    write(rel + "/pyvenv.cfg", "home = " + home + "\ninclude-system-site-packages = false\nversion = 3.11.2\n" + extra, 0644);
    fs::create_directories(d / rel / "bin");
    fs::create_directories(d / rel / "lib/python3.11/site-packages/srv");
    fs::create_symlink(home + "/python3", d / rel / "bin/python3");
    fs::create_symlink("python3", d / rel / "bin/python");
    write(rel + "/bin/mcp-server-x", "#!" + p(rel) + "/bin/python3\nimport srv\n");
  }
  Invocation inv(std::vector<std::string> command) const {
    Invocation i = support::invocation_as_me(p("home/alice"), p("ws"));
    i.host_env = {{"PATH", "/usr/bin:/bin"}, {"HOME", p("home/alice")}};
    i.command = std::move(command);
    return i;
  }
  Profile profile(const Invocation& i) const { return load_profile_text("version = 1\n", "t.toml", d.string(), i.load); }
};

using support::Pass;

const AutoBind* bind_of(const CommandPlan& cmd, const std::string& path) {
  auto it = std::find_if(cmd.binds.begin(), cmd.binds.end(), [&](const AutoBind& b) { return b.path == path; });
  return it == cmd.binds.end() ? nullptr : &*it;
}

using support::has;

}  // namespace

TEST_CASE("python: pyvenv.cfg is read as site.py reads it") {
  // python3 -m venv
  auto c = py::parse_pyvenv_cfg("home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n"
                                "executable = /usr/bin/python3.11\ncommand = /usr/bin/python3 -m venv /v\n");
  CHECK(c.home == "/usr/bin");
  CHECK_FALSE(c.include_system_site_packages);
  CHECK(c.version == "3.11.2");
  // uv: version_info, other keys, no spaces, letter case of keys and of "true"
  c = py::parse_pyvenv_cfg("HOME=/h/.local/share/uv/python/cpython-3.12-linux-x86_64-gnu/bin\r\nimplementation = CPython\n"
                           "uv = 0.5.0\nversion_info = 3.12.8\nInclude-System-Site-Packages =  True \nprompt = x = y\n");
  CHECK(c.home == "/h/.local/share/uv/python/cpython-3.12-linux-x86_64-gnu/bin");
  CHECK(c.include_system_site_packages);
  CHECK(c.version == "3.12.8");
  // lines without '=' are ignored; a missing home stays empty
  c = py::parse_pyvenv_cfg("# comment\njunk\n\nversion = 3.9.1");
  CHECK(c.home.empty());
  CHECK(c.version == "3.9.1");
  CHECK_FALSE(py::parse_pyvenv_cfg("include-system-site-packages = yes\n").include_system_site_packages);
}

TEST_CASE("python: interpreter names, installation prefixes") {
  for (const char* n : {"python", "python3", "python3.11", "python3.13t", "python2.7", "python3.12d"}) CHECK(py::is_python_name(n));
  for (const char* n : {"python3-config", "python3.11-config", "pythonx", "python3.", "ipython", "py", "python.exe"})
    CHECK_FALSE(py::is_python_name(n));
  CHECK(py::install_prefix("/usr/bin") == "/usr");
  CHECK(py::install_prefix("/opt/py/bin") == "/opt/py");
  CHECK(py::install_prefix("/opt/py") == "/opt/py");
}

TEST_CASE("python: -m MODULE, a script, or -c on the interpreter's command line") {
  CHECK(py::python_args({"python", "-m", "mcp_server_x", "/ws"}).module == "mcp_server_x");
  CHECK(py::python_args({"python", "-um", "pkg.sub"}).module == "pkg.sub");       // grouped
  CHECK(py::python_args({"python", "-mpkg", "x"}).module == "pkg");              // attached
  CHECK(py::python_args({"python", "-W", "ignore", "-X", "utf8", "-m", "m"}).module == "m");
  auto a = py::python_args({"python", "-u", "server.py", "-m", "x"});
  CHECK(a.script == "server.py");
  CHECK(a.module.empty());
  CHECK(py::python_args({"python", "--", "-weird.py"}).script == "-weird.py");
  CHECK(py::python_args({"python", "-c", "print(1)"}).code);
  CHECK(py::python_args({"python", "-I", "-m", "m"}).isolated);
  CHECK(py::python_args({"python", "-Es", "-m", "m"}).isolated);
  CHECK_FALSE(py::python_args({"python", "-B", "-m", "m"}).isolated);
}

TEST_CASE("python: uvx and uv run are refused with what to do instead") {
  auto a = py::uv_advice({"uvx", "mcp-server-fetch@2025.1"});
  REQUIRE(a);
  CHECK_THAT(*a, Catch::Contains("uv tool install mcp-server-fetch`") &&
                     Catch::Contains("~/.local/share/uv/tools/mcp-server-fetch/bin/SCRIPT") &&
                     Catch::Contains("pipx install mcp-server-fetch"));
  a = py::uv_advice({"/usr/local/bin/uvx", "--from", "mcp-x[cli]==1.0", "mcp-x"});
  REQUIRE(a);
  CHECK_THAT(*a, Catch::Contains("uv tool install mcp-x`"));
  a = py::uv_advice({"uv", "tool", "run", "mcp-y"});
  REQUIRE(a);
  CHECK_THAT(*a, Catch::Contains("uv tool install mcp-y`"));
  a = py::uv_advice({"uv", "--directory", "/srv/x", "run", "server.py"});
  REQUIRE(a);
  CHECK_THAT(*a, Catch::Contains("uv sync") && Catch::Contains("PROJECT/.venv/bin/python -m MODULE"));
  CHECK_FALSE(py::uv_advice({"uv", "pip", "list"}));
  CHECK_FALSE(py::uv_advice({"python3", "-m", "uv"}));
  CHECK_FALSE(py::uv_advice({}));
  CHECK_THROWS_AS(uv_runtime().detect({std::vector<std::string>{"uvx", "x"}, NetMode::None, "", Identity{}}), LaunchError);
  CHECK(std::find(runtimes().begin(), runtimes().end(), &uv_runtime()) != runtimes().end());
}

TEST_CASE("python: a venv is found by the pyvenv.cfg beside its bin") {
  PythonWorld w;
  CHECK(py::venv_of_bin(w.p("venv/bin/python")) == w.p("venv"));
  CHECK(py::venv_of_bin(w.p("venv/bin/mcp-server-x")) == w.p("venv"));
  CHECK(py::venv_of_bin(w.p("venv/lib/python3.11/site-packages/srv")).empty());
  CHECK(py::venv_of_bin(w.p("py/bin/python3")).empty());  // an installation, not a venv
  CHECK(py::venv_of_bin("/usr/bin/python3").empty());
  CHECK(py::venv_of_bin("bin/python").empty());           // relative: never
}

TEST_CASE("python: byte-code is not written for a Python command, whatever its form") {
  PythonWorld w;
  const std::string env_script = w.write("app/server", "#!/usr/bin/env python3\n");
  for (const std::vector<std::string>& cmd :
       {std::vector<std::string>{w.p("venv/bin/mcp-server-x")}, {w.p("venv/bin/python"), "-m", "srv"},
        {"python3", "-m", "http.server"}, {env_script}}) {
    INFO(cmd[0]);
    const Invocation i = w.inv(cmd);
    auto r = python_runtime().detect({i.command, NetMode::None, "", Identity{}, &i});
    REQUIRE(r);
    CHECK(r->env == std::map<std::string, std::string>{{"PYTHONDONTWRITEBYTECODE", "1"}});
  }
  const Invocation i = w.inv({"/bin/true"});
  CHECK_FALSE(python_runtime().detect({i.command, NetMode::None, "", Identity{}, &i}));
  const Invocation iso = w.inv({w.p("venv/bin/python"), "-I", "-m", "srv"});
  auto r = python_runtime().detect({iso.command, NetMode::None, "", Identity{}, &iso});
  REQUIRE(r);
  CHECK_THAT(r->notes.at(0), Catch::Contains("-E or -I"));
}

TEST_CASE("python: a venv's console script binds the venv and its installation, and its interpreter may run") {
  PythonWorld w;
  const std::string script = w.p("venv/bin/mcp-server-x");
  const Invocation i = w.inv({script, "/ws"});
  Pass ps(w.profile(i), i);
  const TrustPolicy trust{::getuid(), {}};
  const CommandPlan cmd = resolve_command(ps.c, trust, "/usr/bin:/bin");
  CHECK(cmd.exe == script);
  CHECK(cmd.exec_files == std::vector<std::string>{script, w.p("venv/bin/python3")});
  CHECK(cmd.followed_in_jail == std::vector<std::string>{w.p("venv/bin/python3")});
  CHECK(cmd.project == w.p("venv"));
  const AutoBind* v = bind_of(cmd, w.p("venv"));
  REQUIRE(v);
  CHECK(v->is_dir);
  CHECK_THAT(v->why, Catch::Contains("Python virtual environment (pyvenv.cfg) of the console script " + script));
  const AutoBind* inst = bind_of(cmd, w.p("py"));
  REQUIRE(inst);
  CHECK(inst->is_dir);
  CHECK_THAT(inst->why, Catch::Contains("Python installation of the virtual environment " + w.p("venv")) &&
                            Catch::Contains("pyvenv.cfg: home = " + w.p("py/bin")));
  // the interpreter's target lies in the installation: no bind of its own
  CHECK_FALSE(bind_of(cmd, w.p("py/bin/python3.11")));
}

TEST_CASE("python: VENV/bin/python -m MODULE runs through the venv's interpreter") {
  PythonWorld w;
  const Invocation i = w.inv({w.p("venv/bin/python"), "-m", "srv", "/ws"});
  Pass ps(w.profile(i), i);
  const CommandPlan cmd = resolve_command(ps.c, TrustPolicy{::getuid(), {}}, "/usr/bin:/bin");
  // executed as named, not as the file its links lead to: Python finds its venv from that path
  CHECK(cmd.exe == w.p("venv/bin/python"));
  CHECK(cmd.exec_files == std::vector<std::string>{w.p("venv/bin/python")});
  CHECK(bind_of(cmd, w.p("venv")));
  CHECK(bind_of(cmd, w.p("py")));
  CHECK(cmd.script.empty());
}

TEST_CASE("python: a venv reached through a symlink (pipx's ~/.local/bin/NAME) is the venv of the link's target") {
  PythonWorld w;
  fs::create_directories(w.d / "bin");
  fs::create_symlink(w.p("venv/bin/mcp-server-x"), w.d / "bin/mcp-server-x");
  const Invocation i = w.inv({w.p("bin/mcp-server-x")});
  Pass ps(w.profile(i), i);
  const CommandPlan cmd = resolve_command(ps.c, TrustPolicy{::getuid(), {}}, "/usr/bin:/bin");
  CHECK(cmd.exe == w.p("venv/bin/mcp-server-x"));
  CHECK(bind_of(cmd, w.p("venv")));
  CHECK(bind_of(cmd, w.p("py")));
}

TEST_CASE("python: home through a trusted symlink is reproduced in the jail, through another it is refused") {
  PythonWorld w;
  fs::create_directories(w.d / "links");
  fs::create_symlink(w.p("py"), w.d / "links/current");
  w.venv("venv2", w.p("links/current/bin"), "include-system-site-packages = true\n");
  const Invocation i = w.inv({w.p("venv2/bin/mcp-server-x")});
  Pass ps(w.profile(i), i);
  const CommandPlan cmd = resolve_command(ps.c, TrustPolicy{::getuid(), {}}, "/usr/bin:/bin");
  CHECK(bind_of(cmd, w.p("py")));
  const AutoBind* named = bind_of(cmd, w.p("links/current"));
  REQUIRE(named);
  CHECK(named->source == w.p("py"));
  const AutoBind* site = bind_of(cmd, w.p("py/lib/python3.11/site-packages"));
  REQUIRE(site);
  CHECK_THAT(site->why, Catch::Contains("include-system-site-packages = true"));
  // the same link where a jail could have planted it: not followed
  Pass ps2(w.profile(i), i);
  try {
    resolve_command(ps2.c, TrustPolicy{::getuid(), {w.p("links")}}, "/usr/bin:/bin");
    FAIL("accepted");
  } catch (const LaunchError& e) {
    CHECK(e.exit_code() == 126);
    CHECK_THAT(e.what(), Catch::Contains("home = " + w.p("links/current/bin")) && Catch::Contains("refusing to follow") &&
                             Catch::Contains(w.p("py/bin") + "/python3 -m venv --clear"));
  }
}

TEST_CASE("python: pyvenv.cfg cannot make a launch bind what is not a Python installation") {
  PythonWorld w;
  auto refused = [&](const std::string& venv, const std::string& why) {
    const Invocation i = w.inv({w.p(venv + "/bin/python"), "-m", "srv"});
    Pass ps(w.profile(i), i);
    try {
      resolve_command(ps.c, TrustPolicy{::getuid(), {}}, "/usr/bin:/bin");
      FAIL("accepted " + venv);
    } catch (const LaunchError& e) {
      CHECK(e.exit_code() == 126);
      CHECK_THAT(e.what(), Catch::Contains(why));
    }
  };
  // a directory with secrets, no standard library
  w.write("home/alice/.ssh/id_rsa", "KEY", 0600);
  w.venv("v1", w.p("home/alice/.ssh"));
  refused("v1", "holds no Python standard library");
  // an installation that holds $HOME (a home with a stand-in standard library)
  w.write("home/alice/lib/python3.11/os.py", "");
  w.write("home/alice/bin/python3", "");
  w.venv("v2", w.p("home/alice/bin"));
  refused("v2", "holds $HOME");
  w.venv("v3", w.p("gone/bin"));
  refused("v3", "does not exist: the Python the venv was made from is gone");
  w.write("v4/pyvenv.cfg", "version = 3.11.2\n", 0644);
  fs::create_directories(w.d / "v4/bin");
  fs::create_symlink("/usr/bin/python3", w.d / "v4/bin/python");
  refused("v4", "has no `home =` line");
}

TEST_CASE("python: the venv's interpreter must lead, link by link, to a file the jail sees") {
  PythonWorld w;
  auto bind = [](const std::string& p) {
    MountStep s;
    s.kind = MountKind::Bind;
    s.target = s.source = p;
    s.is_dir = true;
    return s;
  };
  const std::string interp = w.p("venv/bin/python");  // -> python3 -> py/bin/python3 -> python3.11
  CHECK_NOTHROW(py::check_followed_in_jail({bind(w.p("venv")), bind(w.p("py"))}, {interp}));
  try {
    py::check_followed_in_jail({bind(w.p("venv"))}, {interp});
    FAIL("accepted");
  } catch (const LaunchError& e) {
    CHECK(e.exit_code() == 126);
    CHECK_THAT(e.what(), Catch::Contains(interp + " goes through the symlink " + w.p("py/bin/python3") +
                                         ", which the jail does not see"));
  }
  // ... and its last file too
  const std::string other = w.write("other/python3", "");
  fs::remove(w.d / "venv/bin/python3");
  fs::create_symlink(other, w.d / "venv/bin/python3");
  CHECK_THROWS_WITH(py::check_followed_in_jail({bind(w.p("venv")), bind(w.p("py"))}, {interp}),
                    Catch::Contains(interp + " leads to " + other + ", which the jail does not see"));
  CHECK_NOTHROW(py::check_followed_in_jail({bind(w.p("venv")), bind(w.p("other"))}, {interp}));
  // a directory link on the way must exist in the jail too
  fs::create_directories(w.d / "links");
  fs::create_symlink(w.p("py"), w.d / "links/current");
  w.venv("venv2", w.p("links/current/bin"));
  const std::string interp2 = w.p("venv2/bin/python3");
  CHECK_THROWS_WITH(py::check_followed_in_jail({bind(w.p("venv2")), bind(w.p("py"))}, {interp2}),
                    Catch::Contains("goes through the symlink " + w.p("links/current")));
  MountStep link;
  link.kind = MountKind::Symlink;
  link.target = w.p("links/current");
  link.source = w.p("py");
  CHECK_NOTHROW(py::check_followed_in_jail({bind(w.p("venv2")), bind(w.p("py")), link}, {interp2}));
}

TEST_CASE("python: the plan of a venv's console script shows the venv rule with its reasons") {
  PythonWorld w;
  // The launch follows root's symlinks only: home through a link when the
  // tests run as root (the link is then root's).
  const bool root = ::geteuid() == 0;
  fs::create_directories(w.d / "links");
  fs::create_symlink(w.p("py"), w.d / "links/current");
  w.venv("venv2", root ? w.p("links/current/bin") : w.p("py/bin"));
  Invocation i = w.inv({w.p("venv2/bin/mcp-server-x"), "/ws"});
  const Profile pr = load_profile_text("version = 1\n[env]\npass = [\"PATH\"]\n", "t.toml", w.d.string(), i.load);
  const Plan plan = make_plan(pr, i);
  auto mount = [&](const std::string& target) -> const MountStep* {
    for (const auto& m : plan.mounts)
      if (m.target == target) return &m;
    return nullptr;
  };
  const MountStep* v = mount(w.p("venv2"));
  REQUIRE(v);
  CHECK(v->kind == MountKind::Bind);
  CHECK_FALSE(v->writable);
  const MountStep* inst = mount(w.p("py"));
  REQUIRE(inst);
  CHECK_FALSE(inst->writable);
  if (root) {
    const MountStep* named = mount(w.p("links/current"));
    REQUIRE(named);
    CHECK(named->kind == MountKind::Symlink);
  }
  CHECK(has(plan.env, "PYTHONDONTWRITEBYTECODE=1"));
  CHECK(has(plan.landlock.exec_allow, w.p("venv2/bin/python3")));
  const std::string shown = render_plan(plan);
  CHECK_THAT(shown, Catch::Contains("why: Python installation of the virtual environment " + w.p("venv2")) &&
                        Catch::Contains("why: Python virtual environment (pyvenv.cfg) of the console script") &&
                        Catch::Contains("python: PYTHONDONTWRITEBYTECODE=1"));
}

TEST_CASE("python: an interpreter outside the installation, through trusted links, is bound only when it is an executable ELF") {
  PythonWorld w;
  const std::string elf = w.write("elsewhere/bin/python3.11", "\x7f" "ELF stand-in\n", 0755);
  const std::string secret = w.write("home/alice/.ssh/id_rsa", "KEY", 0600);
  w.venv("v", w.p("py/bin"));
  const TrustPolicy trust{::getuid(), {}};
  auto plan_with = [&](const std::string& target) {
    fs::remove(w.d / "v/bin/python3");
    fs::create_symlink(target, w.d / "v/bin/python3");
    const Invocation i = w.inv({w.p("v/bin/mcp-server-x")});
    Pass ps(w.profile(i), i);
    return resolve_command(ps.c, trust, "/usr/bin:/bin");
  };
  const CommandPlan to_elf = plan_with(elf);
  const AutoBind* b = bind_of(to_elf, elf);
  REQUIRE(b);
  CHECK_FALSE(b->is_dir);
  CHECK_THAT(b->why, Catch::Contains("interpreter of the virtual environment " + w.p("v")));
  CHECK_FALSE(bind_of(plan_with(secret), secret));
}
