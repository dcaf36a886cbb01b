# Shell completion and the packaging (included by the top-level
# CMakeLists.txt after the mcp-jail target). doctor and the completion
# generator are in mcpjail_frontends (frontends/CMakeLists.txt).

# Completion scripts, printed by the binary from its own command table and
# built-in profiles, so they always match it.
set(MCPJAIL_COMPLETIONS ${CMAKE_BINARY_DIR}/completions)
add_custom_command(
  OUTPUT ${MCPJAIL_COMPLETIONS}/mcp-jail ${MCPJAIL_COMPLETIONS}/_mcp-jail
  COMMAND ${CMAKE_COMMAND} -DBIN=$<TARGET_FILE:mcp-jail> -DOUT=${MCPJAIL_COMPLETIONS}
          -P ${CMAKE_SOURCE_DIR}/cmake/completions.cmake
  DEPENDS mcp-jail ${CMAKE_SOURCE_DIR}/cmake/completions.cmake
  COMMENT "Generating bash and zsh completion")
add_custom_target(completions ALL DEPENDS ${MCPJAIL_COMPLETIONS}/mcp-jail ${MCPJAIL_COMPLETIONS}/_mcp-jail)
install(FILES ${MCPJAIL_COMPLETIONS}/mcp-jail DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES ${MCPJAIL_COMPLETIONS}/_mcp-jail DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)

include(${CMAKE_SOURCE_DIR}/packaging/packaging.cmake)
