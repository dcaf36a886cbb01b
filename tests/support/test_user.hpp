// The unprivileged user rootless tests run as (the end-to-end tests create
// the same one, tests/e2e/jailed.mjs).
#pragma once
#include <sys/types.h>

#include <string>

namespace support {

inline constexpr const char* kTestUser = "mcpjail-test";

struct User {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

// kTestUser, created with a home directory (useradd) when missing, and its
// home created when it is not there. Needs root to create; throws when the
// user cannot be had.
User test_user();

}  // namespace support
