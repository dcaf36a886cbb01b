# Installation layout of the AppArmor profile, and the .deb package
# (`cpack -G DEB` in the build directory). `cmake --install` and the package
# use the same layout:
#   bin/mcp-jail
#   share/man/man1/mcp-jail.1, share/man/man5/mcp-jail-profile.5
#   share/mcp-jail/profiles/*.toml                the built-in profiles
#   share/bash-completion/completions/mcp-jail
#   share/zsh/vendor-completions/_mcp-jail
#   /etc/apparmor.d/mcp-jail                      (MCPJAIL_APPARMOR_DIR)
# The package is built with the prefix /usr.

set(MCPJAIL_APPARMOR_DIR "/etc/apparmor.d" CACHE PATH "Where the AppArmor profile is installed (absolute)")
set(MCPJAIL_APPARMOR_FILE "${MCPJAIL_APPARMOR_DIR}/mcp-jail")

# The profile names the installed binary, so it is written at install time,
# when the prefix is known (a package is installed to /usr).
install(CODE "
  set(MCPJAIL_BIN \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/mcp-jail\")
  configure_file(\"${CMAKE_SOURCE_DIR}/packaging/apparmor/mcp-jail.in\"
                 \"${CMAKE_BINARY_DIR}/packaging/apparmor/mcp-jail\" @ONLY)
  file(INSTALL DESTINATION \"${MCPJAIL_APPARMOR_DIR}\" TYPE FILE
       FILES \"${CMAKE_BINARY_DIR}/packaging/apparmor/mcp-jail\")
")

foreach(script postinst prerm)
  configure_file(${CMAKE_SOURCE_DIR}/packaging/debian/${script}.in ${CMAKE_BINARY_DIR}/packaging/debian/${script} @ONLY)
endforeach()
file(WRITE ${CMAKE_BINARY_DIR}/packaging/debian/conffiles "${MCPJAIL_APPARMOR_FILE}\n")

set(CPACK_PACKAGE_NAME mcp-jail)
set(CPACK_PACKAGE_VENDOR "mcp-jail")
set(CPACK_PACKAGE_CONTACT "mcp-jail maintainers <mcp-jail@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Installed with DESTDIR into the staging tree, prefix /usr, so that the
# absolute /etc/apparmor.d lands in the package too.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Debug information stays in the build tree (46 MB of it in RelWithDebInfo).
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "passt, libnftables1")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "apparmor")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "sandboxed launcher for MCP servers")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "sandboxed launcher for MCP servers
 mcp-jail starts an MCP server inside a jail built from a TOML profile:
 namespaces, a read-only root with scoped binds, no capabilities, Landlock,
 seccomp, resource limits and a network egress allowlist. `mcp-jail doctor`
 says what a host lacks for a profile, with the fix.
 .
 Built from mcp-jail ${PROJECT_VERSION}, CMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE}.")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_BINARY_DIR}/packaging/debian/postinst
  ${CMAKE_BINARY_DIR}/packaging/debian/prerm
  ${CMAKE_BINARY_DIR}/packaging/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
