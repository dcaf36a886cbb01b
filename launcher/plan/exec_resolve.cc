// The exec resolver: see exec_resolve.hpp. The rules are the kernel's
// (binfmt_elf, binfmt_script), glibc's execvp() and GNU env's; where the
// launcher cannot know what the jail will do (an env -S string that expands
// ${NAME} into the program's name), it refuses rather than guesses.
#include "mcpjail/exec_resolve.hpp"

#include <elf.h>
#include <fcntl.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <set>

#include "mcpjail/errors.hpp"
#include "mcpjail/unique_fd.hpp"

namespace mcpjail::exec {

namespace {

constexpr std::size_t kHeadSize = 256;  // BINPRM_BUF_SIZE
constexpr int kMaxInterpDepth = 5;     // the kernel allows 4 levels of binfmt rewriting

bool blank(char c) { return c == ' ' || c == '\t'; }
bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

// ---- env -S ----------------------------------------------------------------

struct Word {
  std::string text;
  bool raw = false;       // as the kernel passed it (unsplit: may hold blanks by mistake)
  std::string expanded;   // a ${NAME} it holds, whose value only the jail knows
};

// Splits an env -S string as GNU env's build_argv() does. Sets *err on the
// errors env itself reports.
std::vector<Word> split_string(std::string_view s, std::string* err) {
  std::vector<Word> out;
  bool dq = false, sq = false, sep = true;
  auto start_word = [&] {
    if (sep) out.emplace_back();
    sep = false;
  };
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '\'' && !dq) {
      sq = !sq;
      start_word();
      ++i;
      continue;
    }
    if (c == '"' && !sq) {
      dq = !dq;
      start_word();
      ++i;
      continue;
    }
    if (space(c) && !sq && !dq) {
      sep = true;
      while (i < s.size() && space(s[i])) ++i;
      continue;
    }
    if (c == '#' && sep && !sq && !dq) return out;  // a comment to the end
    if (c == '\\' && !(sq && (i + 1 >= s.size() || (s[i + 1] != '\\' && s[i + 1] != '\'')))) {
      if (++i >= s.size()) {
        *err = "invalid backslash at end of string in -S";
        return {};
      }
      c = s[i];
      switch (c) {
        case '"': case '#': case '$': case '\'': case '\\': break;
        case '_':
          if (!dq) {  // a separator outside double quotes
            ++i;
            sep = true;
            continue;
          }
          c = ' ';
          break;
        case 'c':
          if (dq) {
            *err = "'\\c' must not appear in double-quoted -S string";
            return {};
          }
          return out;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'v': c = '\v'; break;
        default: *err = std::string("invalid sequence '\\") + c + "' in -S"; return {};
      }
    } else if (c == '$' && !sq) {
      std::size_t j = i + 2;
      const bool ok = i + 1 < s.size() && s[i + 1] == '{' && j < s.size() &&
                      (std::isalpha(static_cast<unsigned char>(s[j])) || s[j] == '_');
      while (ok && j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      if (!ok || j >= s.size() || s[j] != '}') {
        *err = "only ${VARNAME} expansion is supported, error at: " + std::string(s.substr(i));
        return {};
      }
      start_word();
      out.back().expanded = std::string(s.substr(i, j + 1 - i));
      i = j + 1;
      continue;
    }
    start_word();
    out.back().text += c;
    ++i;
  }
  if (dq || sq) {
    *err = "no terminating quote in -S string";
    return {};
  }
  return out;
}

bool has_blank(const std::string& s) { return s.find_first_of(" \t") != std::string::npos; }

struct LongOpt {
  const char* name;
  enum { Flag, Required, Optional } arg;
};
constexpr LongOpt kLongOpts[] = {
    {"ignore-environment", LongOpt::Flag}, {"null", LongOpt::Flag},           {"debug", LongOpt::Flag},
    {"list-signal-handling", LongOpt::Flag}, {"unset", LongOpt::Required},    {"chdir", LongOpt::Required},
    {"split-string", LongOpt::Required},   {"default-signal", LongOpt::Optional}, {"ignore-signal", LongOpt::Optional},
    {"block-signal", LongOpt::Optional},   {"help", LongOpt::Flag},           {"version", LongOpt::Flag},
};

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

std::string jail_search_path(const std::vector<std::string>& env) {
  for (const auto& e : env)
    if (e.starts_with("PATH=")) return e.substr(5);
  return kDefaultSearchPath;
}

std::optional<Shebang> parse_shebang(std::string_view head) {
  if (head.size() < 2 || head[0] != '#' || head[1] != '!') return std::nullopt;
  std::string_view line = head.substr(2);
  line = line.substr(0, line.find('\n'));
  while (!line.empty() && blank(line.front())) line.remove_prefix(1);
  while (!line.empty() && blank(line.back())) line.remove_suffix(1);
  Shebang s;
  s.line = std::string(line);
  std::size_t i = 0;
  while (i < line.size() && !blank(line[i])) ++i;
  s.interpreter = std::string(line.substr(0, i));
  while (i < line.size() && blank(line[i])) ++i;
  s.arg = std::string(line.substr(i));
  return s;
}

EnvCommand parse_env(const std::vector<std::string>& args) {
  std::deque<Word> q;
  for (const auto& a : args) q.push_back(Word{a, true, {}});
  EnvCommand out;
  auto fail = [&](std::string why) {
    EnvCommand e;
    e.error = std::move(why);
    return e;
  };
  auto take_arg = [&](std::string* value) {
    if (q.empty()) return false;
    *value = q.front().text;
    q.pop_front();
    return true;
  };
  auto split_into = [&](const std::string& text, std::string* err) {
    auto words = split_string(text, err);
    for (auto it = words.rbegin(); it != words.rend(); ++it) q.push_front(std::move(*it));
  };
  // Options: env stops at the first word that is not one ("+" in its getopt string).
  while (!q.empty()) {
    const Word w = q.front();
    const std::string& s = w.text;
    if (s == "--") {
      q.pop_front();
      break;
    }
    if (s == "-") {  // as -i
      q.pop_front();
      continue;
    }
    if (s.size() < 2 || s[0] != '-') break;
    q.pop_front();
    if (s.starts_with("--")) {
      const auto eq = s.find('=');
      const std::string name = s.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      const LongOpt* match = nullptr;
      int matches = 0;
      for (const auto& o : kLongOpts) {
        if (name == o.name) {
          match = &o;
          matches = 1;
          break;
        }
        if (!name.empty() && std::string_view(o.name).starts_with(name)) {  // getopt_long takes unique prefixes
          match = &o;
          ++matches;
        }
      }
      if (matches != 1) return fail("env does not take the option " + quoted(s) + (has_blank(s) && w.raw ? "; use \"env -S\"" : ""));
      std::string value;
      if (match->arg == LongOpt::Required) {
        if (eq != std::string::npos) value = s.substr(eq + 1);
        else if (!take_arg(&value)) return fail("env's option " + quoted(s) + " needs a value");
      } else if (match->arg == LongOpt::Flag && eq != std::string::npos) {
        return fail("env's option --" + std::string(match->name) + " takes no value");
      }
      if (std::string_view(match->name) == "help" || std::string_view(match->name) == "version")
        return fail("env --" + std::string(match->name) + " prints and exits; it runs nothing");
      if (std::string_view(match->name) == "split-string") {
        std::string err;
        split_into(value, &err);
        if (!err.empty()) return fail("env: " + err);
      }
      continue;
    }
    for (std::size_t k = 1; k < s.size(); ++k) {
      const char c = s[k];
      if (c == 'i' || c == '0' || c == 'v') continue;
      if (c == 'u' || c == 'C' || c == 'S') {
        std::string value = s.substr(k + 1);
        if (value.empty() && !take_arg(&value)) return fail(std::string("env's option -") + c + " needs a value");
        if (c == 'S') {
          std::string err;
          split_into(value, &err);
          if (!err.empty()) return fail("env: " + err);
        }
        break;
      }
      if (blank(c))  // the kernel passed "-i prog" as one word: env refuses it
        return fail(quoted(s) + " reaches env as one word, which it refuses (invalid option -- ' '); use \"env -S\"");
      return fail(std::string("env has no option -") + c);
    }
  }
  while (!q.empty() && q.front().text.find('=') != std::string::npos) {
    const Word& w = q.front();
    if (w.raw && has_blank(w.text))
      return fail(quoted(w.text) + " reaches env as one word, an assignment with no program after it; use \"env -S\"");
    out.assignments.push_back(w.text);
    q.pop_front();
  }
  if (q.empty()) return out;
  const Word& prog = q.front();
  if (prog.raw && has_blank(prog.text))
    return fail("passes " + quoted(prog.text) + " to env as one program name; use \"env -S\"");
  if (!prog.expanded.empty())
    return fail("names its program through " + prog.expanded +
                ", which only the jail's environment can give; name the program itself");
  out.program = prog.text;
  q.pop_front();
  for (const auto& w : q) out.args.push_back(w.text);
  return out;
}

EnvCommand env_of_shebang(const Shebang& s) {
  if (s.arg.empty()) return parse_env({});
  return parse_env({s.arg});
}

Found search_path(std::string_view name, std::string_view search_path, const PathLookup& how) {
  Found f;
  std::size_t i = 0;
  while (i <= search_path.size()) {
    auto j = search_path.find(':', i);
    if (j == std::string_view::npos) j = search_path.size();
    std::string dir(search_path.substr(i, j - i));
    i = j + 1;
    if (dir.empty() || dir[0] != '/') {
      if (!how.relative_entries) continue;  // relative to a working directory that is not the jail's
      if (dir.empty()) dir = ".";
    }
    const std::string cand = dir + (dir.back() == '/' ? "" : "/") + std::string(name);
    struct stat st {};
    if (::stat(cand.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (how.visible && !how.visible(cand)) continue;
    if (::access(cand.c_str(), X_OK) != 0) {
      f.not_executable = true;
      continue;
    }
    f.path = cand;
    f.not_executable = false;
    return f;
  }
  return f;
}

std::string read_head(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) return {};
  char head[kHeadSize];
  const ssize_t n = ::pread(fd.get(), head, sizeof head, 0);
  return n > 0 ? std::string(head, static_cast<std::size_t>(n)) : std::string();
}

// ---- The closure ------------------------------------------------------------

namespace {

UniqueFd open_regular(const std::string& path, std::string* err) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) {
    *err = errno_text(path, errno);
    return fd;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    *err = path + ": not a regular file";
    return UniqueFd();
  }
  return fd;
}

bool pread_all(int fd, void* buf, std::size_t len, off_t off) {
  auto* p = static_cast<char*>(buf);
  while (len > 0) {
    ssize_t n = ::pread(fd, p, len, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<std::size_t>(n);
    off += n;
  }
  return true;
}

// PT_INTERP of an ELF file: "" for a static executable; errors in *err.
template <class Ehdr, class Phdr>
std::string elf_interp(int fd, const std::string& path, std::string* err) {
  Ehdr eh{};
  if (!pread_all(fd, &eh, sizeof eh, 0)) {
    *err = path + ": truncated ELF header";
    return {};
  }
  if (eh.e_phentsize != sizeof(Phdr) || eh.e_phnum == 0 || eh.e_phnum > 4096) {
    *err = path + ": unsupported ELF program header table";
    return {};
  }
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Phdr ph{};
    if (!pread_all(fd, &ph, sizeof ph, static_cast<off_t>(eh.e_phoff + i * sizeof(Phdr)))) {
      *err = path + ": truncated ELF program headers";
      return {};
    }
    if (ph.p_type != PT_INTERP) continue;
    if (ph.p_filesz < 2 || ph.p_filesz > 4096) {
      *err = path + ": bad PT_INTERP";
      return {};
    }
    std::string s(ph.p_filesz, '\0');
    if (!pread_all(fd, s.data(), s.size(), static_cast<off_t>(ph.p_offset))) {
      *err = path + ": truncated PT_INTERP";
      return {};
    }
    s.resize(std::strlen(s.c_str()));
    if (s.empty() || s[0] != '/') {
      *err = path + ": ELF interpreter \"" + s + "\" is not an absolute path";
      return {};
    }
    return s;
  }
  return {};  // static
}

void add_exec(const std::string& path, const std::string& why, const std::string& search, int depth,
              std::vector<ExecFile>* out, std::set<std::string>* seen) {
  if (depth > kMaxInterpDepth) throw ResolveError(path + ": too many levels of interpreters");
  if (path.empty() || path[0] != '/')
    throw ResolveError("executable \"" + path + "\" (" + why + ") is not an absolute path");
  if (!seen->insert(path).second) return;
  std::string err;
  UniqueFd fd = open_regular(path, &err);
  if (!fd) throw ResolveError("cannot allow execution of " + path + " (" + why + "): " + err);
  out->push_back({path, why});

  char head[kHeadSize] = {};
  ssize_t n = ::pread(fd.get(), head, sizeof head, 0);
  if (n < 0) throw ResolveError(errno_text("read " + path, errno));
  const std::string h(head, static_cast<std::size_t>(n));

  if (h.size() >= EI_NIDENT && h.compare(0, SELFMAG, ELFMAG) == 0) {
    std::string interp;
    if (h[EI_CLASS] == ELFCLASS64)
      interp = elf_interp<Elf64_Ehdr, Elf64_Phdr>(fd.get(), path, &err);
    else if (h[EI_CLASS] == ELFCLASS32)
      interp = elf_interp<Elf32_Ehdr, Elf32_Phdr>(fd.get(), path, &err);
    else
      err = path + ": unknown ELF class";
    if (!err.empty()) throw ResolveError(err);
    if (!interp.empty()) add_exec(interp, "ELF interpreter of " + path, search, depth + 1, out, seen);
    return;
  }
  if (auto sb = parse_shebang(h)) {
    if (sb->interpreter.empty()) throw ResolveError(path + ": empty #! line");
    add_exec(sb->interpreter, "script interpreter of " + path, search, depth + 1, out, seen);
    if (sb->interpreter.substr(sb->interpreter.rfind('/') + 1) != "env") return;
    const EnvCommand e = env_of_shebang(*sb);
    if (!e.error.empty()) throw ResolveError(path + ": \"#!" + sb->line + "\" " + e.error);
    if (e.program.empty()) return;
    std::string resolved = e.program;
    if (resolved.find('/') == std::string::npos) resolved = search_path(e.program, search).path;
    if (resolved.empty())
      throw ResolveError(path + ": \"#!" + sb->line + "\": " + e.program + " is not found on PATH " + search);
    add_exec(resolved, "run by \"#!" + sb->line + "\" in " + path, search, depth + 1, out, seen);
    return;
  }
  throw ResolveError(path + " (" + why +
                     ") is neither an ELF executable nor a #! script; only those formats can be allowed to execute");
}

}  // namespace

std::vector<ExecFile> closure(const std::vector<std::string>& files, const std::string& search_path) {
  const std::string search = search_path.empty() ? kDefaultSearchPath : search_path;
  std::vector<ExecFile> out;
  std::set<std::string> seen;
  for (const auto& f : files) add_exec(f, "allowed", search, 0, &out, &seen);
  return out;
}

namespace {

// The ELF interpreter the file `name` in `dir` names, if it is an
// executable ELF file; "" otherwise (and for anything unreadable).
std::string interpreter_of(int dir, const char* name) {
  UniqueFd fd(::openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111)) return {};
  unsigned char ident[EI_NIDENT] = {};
  if (!pread_all(fd.get(), ident, sizeof ident, 0) || std::memcmp(ident, ELFMAG, SELFMAG) != 0) return {};
  std::string err;
  if (ident[EI_CLASS] == ELFCLASS64) return elf_interp<Elf64_Ehdr, Elf64_Phdr>(fd.get(), name, &err);
  if (ident[EI_CLASS] == ELFCLASS32) return elf_interp<Elf32_Ehdr, Elf32_Phdr>(fd.get(), name, &err);
  return {};
}

}  // namespace

std::vector<std::string> elf_interpreters_beneath(const std::string& dir, std::size_t max_files, bool* truncated) {
  std::vector<std::string> out;
  std::size_t files = 0;
  *truncated = false;
  std::vector<std::pair<UniqueFd, int>> todo;  // directories still to read, with their depth
  todo.emplace_back(UniqueFd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)), 0);
  while (!todo.empty()) {
    auto [fd, depth] = std::move(todo.back());
    todo.pop_back();
    if (!fd) continue;
    DIR* d = ::fdopendir(fd.release());
    if (!d) continue;
    while (auto* e = ::readdir(d)) {
      const std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      unsigned char type = e->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st {};
        if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_LNK;
      }
      if (type == DT_DIR) {
        if (depth < 16)
          todo.emplace_back(UniqueFd(::openat(::dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)),
                            depth + 1);
        continue;
      }
      if (type != DT_REG) continue;  // links lead to files of their own, allowed or not
      if (++files > max_files) {
        *truncated = true;
        break;
      }
      std::string interp = interpreter_of(::dirfd(d), e->d_name);
      if (!interp.empty() && std::find(out.begin(), out.end(), interp) == out.end()) out.push_back(std::move(interp));
    }
    ::closedir(d);
    if (*truncated) break;
  }
  return out;
}

}  // namespace mcpjail::exec
