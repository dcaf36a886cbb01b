// `mcp-jail export oci|k8s PROFILE [OPTION]... -o DIR [--] COMMAND [ARG]...`
// (frontends/export/export_command.cc): the jail a profile describes, written
// as a runc bundle or Kubernetes manifests (the exporters: export/export.hpp).
#pragma once
#include "mcpjail/frontends/cli.hpp"

namespace mcpjail::exporter {

// The command's handler: the FORMAT is args.operand, the PROFILE
// args.operand2. Returns 0, or 125 with a message (nothing written). Throws
// cli::UsageError for a command line it cannot take.
int export_command(const cli::Arguments& args);

}  // namespace mcpjail::exporter
