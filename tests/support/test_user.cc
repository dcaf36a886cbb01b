#include "test_user.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "process.hpp"

namespace support {

namespace {

bool lookup(User* u) {
  const passwd* pw = ::getpwnam(kTestUser);
  if (!pw) return false;
  *u = {pw->pw_name, pw->pw_uid, pw->pw_gid, pw->pw_dir};
  return true;
}

}  // namespace

User test_user() {
  User u;
  if (!lookup(&u)) {
    try {
      run_checked({find_program({"/usr/sbin/useradd", "/sbin/useradd"}), "--create-home", "--shell", "/usr/sbin/nologin",
                   kTestUser});
    } catch (const std::exception&) {
      if (!lookup(&u)) throw;  // else a test running at the same time created it
    }
    if (!lookup(&u)) throw std::runtime_error(std::string("cannot create the test user ") + kTestUser);
  }
  // An earlier version of the tests created the user without a home.
  struct stat st {};
  if (!u.home.empty() && ::stat(u.home.c_str(), &st) != 0 && errno == ENOENT && ::geteuid() == 0) {
    if (::mkdir(u.home.c_str(), 0700) != 0 && errno != EEXIST)
      throw std::runtime_error("cannot create " + u.home + ": " + std::strerror(errno));
    if (::chown(u.home.c_str(), u.uid, u.gid) != 0)
      throw std::runtime_error("cannot chown " + u.home + ": " + std::strerror(errno));
  }
  return u;
}

}  // namespace support
