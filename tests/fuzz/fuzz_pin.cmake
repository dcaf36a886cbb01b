# fuzz_pin: arbitrary bytes as a profile whose [pin] section is rewritten.
# Included by tests/fuzz/CMakeLists.txt. The section rewrite (the pin
# front-end) and the loader are built instrumented; the rest of the launcher
# comes from mcpjail_core.
add_executable(fuzz_pin fuzz_pin.cc ${CMAKE_SOURCE_DIR}/frontends/pin/section.cc ${MCPJAIL_PROFILE_SOURCES})
target_include_directories(fuzz_pin PRIVATE ${CMAKE_SOURCE_DIR}/frontends/include)
target_compile_options(fuzz_pin PRIVATE ${FUZZ_FLAGS})
target_link_options(fuzz_pin PRIVATE ${FUZZ_FLAGS})
target_link_libraries(fuzz_pin PRIVATE mcpjail_core)
