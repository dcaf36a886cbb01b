# `mcp-jail doctor`, shell completion and the packaging (included by the
# top-level CMakeLists.txt after the mcp-jail target).

# Front-ends over the core library: doctor (host checks against a profile's
# needs) and the completion generator.
add_library(mcpjail_doctor STATIC frontends/doctor.cc frontends/completion.cc)
target_link_libraries(mcpjail_doctor PUBLIC mcpjail_core)
target_link_libraries(mcp-jail PRIVATE mcpjail_doctor)

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
