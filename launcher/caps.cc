#include "mcpjail/caps.hpp"

#include <linux/securebits.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include <cerrno>
#include <memory>
#include <string>

#include "mcpjail/errors.hpp"

namespace mcpjail::caps {

namespace {
struct CapFree {
  void operator()(cap_t c) const { cap_free(c); }
};
using CapPtr = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;
}  // namespace

void drop_bounding_set() {
  const int last = static_cast<int>(cap_max_bits());
  for (int c = 0; c < last; ++c) {
    if (cap_drop_bound(static_cast<cap_value_t>(c)) != 0)
      throw LaunchError("capabilities", errno_text("drop capability " + std::to_string(c) + " from the bounding set", errno));
  }
  // uid 0 and setuid/file capabilities never grant capabilities again, and
  // no ambient capability can be raised; all locked.
  const unsigned bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
                        SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
  if (cap_set_secbits(bits) != 0) throw LaunchError("capabilities", errno_text("set securebits", errno));
}

void drop_all() {
  // One prctl. (libcap's cap_reset_ambient() first probes every capability
  // with PR_CAP_AMBIENT_IS_SET; the check below reads each one anyway.)
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    throw LaunchError("capabilities", errno_text("clear the ambient set", errno));
  CapPtr empty(cap_init());
  if (!empty || cap_set_proc(empty.get()) != 0)
    throw LaunchError("capabilities", errno_text("clear effective/permitted/inheritable", errno));
  CapPtr now(cap_get_proc());
  CapPtr none(cap_init());
  if (!now || !none || cap_compare(now.get(), none.get()) != 0)
    throw LaunchError("capabilities", "capabilities remain after dropping them");
  for (int c = 0; c < static_cast<int>(cap_max_bits()); ++c) {
    // cap_get_bound: 1 still in the set, 0 dropped, < 0 unknown to this kernel
    // (CAP_IS_SUPPORTED is the same call; one is enough).
    if (cap_get_bound(static_cast<cap_value_t>(c)) > 0)
      throw LaunchError("capabilities", "capability " + std::to_string(c) + " is still in the bounding set");
    if (cap_get_ambient(static_cast<cap_value_t>(c)) > 0)
      throw LaunchError("capabilities", "capability " + std::to_string(c) + " is still ambient");
  }
}

}  // namespace mcpjail::caps
