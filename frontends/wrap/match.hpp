// What `mcp-jail wrap` recognises in a server's command line: the reference
// server packages that built-in profiles are written for, package runners
// that fetch the server at start-up, container launchers, and directory
// arguments. The rules are spelled out in mcpjail/frontends/wrap.hpp.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mcpjail::wrap {

// `token` names `package` as a whole word, e.g. "pkg", "pkg@1.2", "pkg==0.6", ".../pkg/dist/x.js".
bool names_package(std::string_view token, std::string_view package);

// `token` names a package the built-in profile `name` is written for:
// @modelcontextprotocol/server-NAME, mcp-server-NAME, mcp_server_NAME, or one
// of the profile's other packages (fetch: mcp-fetch-server).
bool server_is(std::string_view token, const std::string& name);

// The last component of a path.
std::string base_name(const std::string& path);

// Package runners that download the server when it starts (npx -y PKG, uvx PKG).
bool fetches_at_start(const std::string& command, const std::vector<std::string>& args);

// The package an npx command line runs: --package's value, else the first
// argument that is not an option ("PACKAGE" when none).
std::string npx_package(const std::vector<std::string>& args);

// docker, podman, nerdctl.
bool container_launcher(const std::string& command);

// The value of the first of `names` among tokens[from+1 ...]: "--name VALUE",
// "--name=VALUE", and for a short "-n", "-n VALUE" and "-nVALUE"
// (mcp-server-git's --repository / -r). nullopt when none is given.
std::optional<std::string> option_value(const std::vector<std::string>& tokens, std::size_t from,
                                        const std::vector<std::string>& names);

// A directory argument of a server as a host path for --var/--write: absolute,
// "~" expanded with `home`, relative ones against an absolute `cwd`, and
// "${...}" left for the host to substitute. nullopt when it cannot be told.
std::optional<std::string> host_dir(const std::string& arg, const std::optional<std::string>& cwd,
                                    const std::string& home);

}  // namespace mcpjail::wrap
