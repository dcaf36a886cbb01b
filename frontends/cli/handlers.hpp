// The commands cli/ runs itself (the others are in their front-ends).
#pragma once
#include "mcpjail/frontends/cli.hpp"

namespace mcpjail::cli {

int run_command(const Arguments& args);
int check_command(const Arguments& args);
int profiles_command(const Arguments& args);

}  // namespace mcpjail::cli
