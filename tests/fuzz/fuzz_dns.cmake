# fuzz_dns: the DNS filter's message parser/builder, the NFLOG packet decoder
# and the allowlist rule parsers. Included by tests/fuzz/CMakeLists.txt.
#   CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DMCPJAIL_FUZZ=ON -DMCPJAIL_TESTS=OFF
#   cmake --build build-fuzz --target fuzz_dns
#   build-fuzz/tests/fuzz/fuzz_dns -max_len=4096 tests/fuzz/corpus/dns
add_executable(fuzz_dns
  fuzz_dns.cc
  ${CMAKE_SOURCE_DIR}/netfilter/dns.cc
  ${CMAKE_SOURCE_DIR}/netfilter/rules.cc
  ${CMAKE_SOURCE_DIR}/netfilter/nflog.cc
  ${CMAKE_SOURCE_DIR}/launcher/errors.cc)
target_include_directories(fuzz_dns PRIVATE ${CMAKE_SOURCE_DIR}/include)
target_compile_options(fuzz_dns PRIVATE ${FUZZ_FLAGS})
target_link_options(fuzz_dns PRIVATE ${FUZZ_FLAGS})
target_link_libraries(fuzz_dns PRIVATE PkgConfig::NFTNL nlohmann_json::nlohmann_json)

# The profile loader checks [network] entries with the egress rule parser,
# so fuzz_profile needs it too.
if(TARGET fuzz_profile)
  target_sources(fuzz_profile PRIVATE ${CMAKE_SOURCE_DIR}/netfilter/rules.cc)
endif()
