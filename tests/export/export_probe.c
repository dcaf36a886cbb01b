/* export_probe: runs inside an exported OCI bundle (under runc) and checks
 * one thing from there; exits 0 when the expectation holds, 1 (with a line on
 * stderr) when it does not.
 *
 *   export_probe mounts                 / read-only; every mount nosuid (the
 *                                       root, which OCI cannot make nosuid,
 *                                       holds no setuid file nor device node;
 *                                       runc's empty read-only masks in /proc
 *                                       aside); every writable mount noexec
 *                                       (proc and devpts aside)
 *   export_probe dev                    /dev holds the default nodes only
 *   export_probe rlimit NAME SOFT       RLIMIT_NAME (CORE, NOFILE, FSIZE) is SOFT
 *   export_probe exec-written DIR       a program copied into DIR cannot be run
 *   export_probe exec PATH              PATH runs (prints "ran" when it did)
 *   export_probe hidden PATH            PATH cannot be opened, or reads as empty
 *   export_probe sleep SECONDS          prints "ready" and sleeps
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char* fmt, const char* a, const char* b) {
  fprintf(stderr, "export_probe: FAIL: ");
  fprintf(stderr, fmt, a, b);
  fputc('\n', stderr);
  return 1;
}

static int has_opt(const char* opts, const char* opt) {
  size_t n = strlen(opt);
  for (const char* p = opts; (p = strstr(p, opt)) != NULL; p += n)
    if ((p == opts || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return 1;
  return 0;
}

/* The mount points, so that the walk of the root stays on the root. */
static char mount_points[512][1024];
static int n_mount_points;
static int root_bad;
static int root_entry(const char* path, const struct stat* st, int type, struct FTW* f) {
  (void)type;
  (void)f;
  if (strcmp(path, "/") != 0)
    for (int i = 0; i < n_mount_points; ++i)
      if (strcmp(path, mount_points[i]) == 0) return FTW_SKIP_SUBTREE;
  if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) || (st->st_mode & (S_ISUID | S_ISGID)))
    root_bad |= fail("%s on the root is a device node or setuid/setgid%s", path, "");
  return FTW_CONTINUE;
}

static int check_mounts(void) {
  FILE* f = fopen("/proc/self/mountinfo", "r");
  if (!f) return fail("mountinfo: %s%s", strerror(errno), "");
  char line[4096];
  int n = 0, bad = 0, root_ro = 0, walk_root = 0;
  while (fgets(line, sizeof line, f)) {
    char mnt[1024], opts[512], fstype[64];
    /* id parent maj:min root mount-point options ... - fstype source super-options */
    if (sscanf(line, "%*s %*s %*s %*s %1023s %511s", mnt, opts) != 2) continue;
    const char* dash = strstr(line, " - ");
    if (!dash || sscanf(dash + 3, "%63s", fstype) != 1) continue;
    ++n;
    if (n_mount_points < 512) snprintf(mount_points[n_mount_points++], sizeof mount_points[0], "%s", mnt);
    if (strcmp(mnt, "/") == 0) root_ro = has_opt(opts, "ro");
    const int proc_mask = strncmp(mnt, "/proc/", 6) == 0 && has_opt(opts, "ro") && strcmp(fstype, "tmpfs") == 0;
    if (strcmp(mnt, "/") == 0 && !has_opt(opts, "nosuid")) {
      walk_root = 1;
    } else if (!has_opt(opts, "nosuid") && !proc_mask) {
      bad |= fail("%s is not nosuid (%s)", mnt, opts);
    }
    const int pseudo = strcmp(fstype, "proc") == 0 || strcmp(fstype, "devpts") == 0 || strcmp(fstype, "mqueue") == 0;
    /* /dev and the masks runc binds from it (/dev/null over masked files) carry device nodes. */
    const int device = strcmp(mnt, "/dev") == 0 || strncmp(mnt, "/dev/", 5) == 0 || strncmp(mnt, "/proc/", 6) == 0;
    if (!has_opt(opts, "ro") && !pseudo && !device && !has_opt(opts, "noexec"))
      bad |= fail("%s is writable and not noexec (%s)", mnt, opts);
  }
  fclose(f);
  if (walk_root) {
    if (nftw("/", root_entry, 16, FTW_PHYS | FTW_ACTIONRETVAL) != 0) bad |= fail("cannot walk /%s%s", "", "");
    bad |= root_bad;
  }
  if (!root_ro) bad |= fail("/ is not read-only%s%s", "", "");
  if (n < 4) bad |= fail("too few mounts%s%s", "", "");
  return bad;
}

static int check_dev(void) {
  static const char* allowed[] = {"null", "zero", "full", "random", "urandom", "tty", "shm", "pts", "ptmx",
                                  "fd", "stdin", "stdout", "stderr", "core", NULL};
  DIR* d = opendir("/dev");
  if (!d) return fail("/dev: %s%s", strerror(errno), "");
  int bad = 0, seen = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    int ok = 0;
    for (int i = 0; allowed[i]; ++i) ok |= strcmp(e->d_name, allowed[i]) == 0;
    if (!ok) bad |= fail("/dev/%s is there%s", e->d_name, "");
    ++seen;
  }
  closedir(d);
  int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "x", 1) != 1) bad |= fail("/dev/null unusable%s%s", "", "");
  if (fd >= 0) close(fd);
  if (seen < 6) bad |= fail("/dev nearly empty%s%s", "", "");
  return bad;
}

static int check_rlimit(const char* name, const char* want) {
  int res = strcmp(name, "CORE") == 0 ? RLIMIT_CORE : strcmp(name, "NOFILE") == 0 ? RLIMIT_NOFILE
          : strcmp(name, "FSIZE") == 0 ? RLIMIT_FSIZE : -1;
  if (res < 0) return fail("unknown rlimit %s%s", name, "");
  struct rlimit r;
  getrlimit(res, &r);
  char got[64];
  snprintf(got, sizeof got, "%llu", (unsigned long long)r.rlim_cur);
  return strcmp(got, want) == 0 && r.rlim_max == r.rlim_cur ? 0 : fail("RLIMIT_%s is %s", name, got);
}

static int exec_written(const char* dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/export-probe-copy", dir);
  int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
  if (in < 0 || out < 0) return fail("cannot write %s: %s", path, strerror(errno));
  struct stat st;
  fstat(in, &st);
  off_t off = 0;
  while (off < st.st_size)
    if (sendfile(out, in, &off, (size_t)(st.st_size - off)) <= 0) return fail("copy to %s: %s", path, strerror(errno));
  close(in);
  close(out);
  pid_t pid = fork();
  if (pid == 0) {
    char* argv[] = {path, "dev", NULL};
    execv(path, argv);
    _exit(errno == EACCES ? 42 : 43);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  unlink(path);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 42) return 0; /* EACCES: noexec holds */
  return fail("a program written to %s %s", dir, WIFEXITED(status) && WEXITSTATUS(status) == 43 ? "failed otherwise" : "ran");
}

static int exec_path(const char* path) {
  pid_t pid = fork();
  if (pid == 0) {
    char* argv[] = {(char*)path, NULL};
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    execv(path, argv);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) != 127) {
    printf("ran\n");
    return 0;
  }
  return fail("%s did not run%s", path, "");
}

int main(int argc, char** argv) {
  if (argc < 2) return fail("no check named%s%s", "", "");
  const char* c = argv[1];
  const char* a = argc > 2 ? argv[2] : "";
  const char* b = argc > 3 ? argv[3] : "";
  if (strcmp(c, "mounts") == 0) return check_mounts();
  if (strcmp(c, "dev") == 0) return check_dev();
  if (strcmp(c, "rlimit") == 0) return check_rlimit(a, b);
  if (strcmp(c, "exec-written") == 0) return exec_written(a);
  if (strcmp(c, "exec") == 0) return exec_path(a);
  if (strcmp(c, "hidden") == 0) {
    int fd = open(a, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    return n <= 0 ? 0 : fail("%s reads as non-empty%s", a, "");
  }
  if (strcmp(c, "sleep") == 0) {
    printf("ready\n");
    fflush(stdout);
    sleep((unsigned)atoi(a));
    return 0;
  }
  return fail("unknown check %s%s", c, "");
}
