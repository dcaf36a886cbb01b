# fuzz_wrap: arbitrary bytes as a host configuration for `mcp-jail wrap`.
# Included by tests/fuzz/CMakeLists.txt.
# The rewrite reads an entry wrapped already as `run` does (the CLI table and
# its parser).
set(FUZZ_WRAP_SOURCES
  fuzz_wrap.cc
  ${CMAKE_SOURCE_DIR}/frontends/wrap/rewrite.cc
  ${CMAKE_SOURCE_DIR}/frontends/wrap/jsonc.cc
  ${CMAKE_SOURCE_DIR}/frontends/wrap/match.cc
  ${CMAKE_SOURCE_DIR}/frontends/wrap/diff.cc
  ${CMAKE_SOURCE_DIR}/frontends/cli/commands.cc
  ${CMAKE_SOURCE_DIR}/frontends/cli/parse.cc
  ${CMAKE_SOURCE_DIR}/launcher/text.cc
  ${MCPJAIL_PROFILE_SOURCES}
  ${CMAKE_SOURCE_DIR}/launcher/units.cc
  ${CMAKE_SOURCE_DIR}/launcher/paths.cc
  ${CMAKE_SOURCE_DIR}/launcher/errors.cc)
# The profile loader checks [network] entries with the egress rule parser.
if(EXISTS ${CMAKE_SOURCE_DIR}/netfilter/rules.cc)
  list(APPEND FUZZ_WRAP_SOURCES ${CMAKE_SOURCE_DIR}/netfilter/rules.cc)
endif()
add_executable(fuzz_wrap ${FUZZ_WRAP_SOURCES})
target_include_directories(fuzz_wrap PRIVATE ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/frontends/include)
target_compile_options(fuzz_wrap PRIVATE ${FUZZ_FLAGS})
target_link_options(fuzz_wrap PRIVATE ${FUZZ_FLAGS})
target_link_libraries(fuzz_wrap PRIVATE mcpjail_profiles toml11::toml11 PkgConfig::SECCOMP nlohmann_json::nlohmann_json
  Boost::program_options)
