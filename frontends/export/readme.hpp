// The README.md that `mcp-jail export` writes into its output directory:
// how to run what was exported, what holds there, and what the engine
// cannot express (the same list as on stderr).
#pragma once
#include <string>

#include "export.hpp"

namespace mcpjail::exporter {

std::string oci_readme(const Plan& plan, const OciBundle& bundle, const std::string& dir);
std::string k8s_readme(const Plan& plan, const K8sExport& k, const K8sOptions& opts, const std::string& dir);

}  // namespace mcpjail::exporter
