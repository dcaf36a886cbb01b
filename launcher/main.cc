#include <cstring>

#include "export/export.hpp"
#include "mcpjail/cli.hpp"

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "export") == 0) return mcpjail::exporter::export_main(argc, argv);
  return mcpjail::cli_main(argc, argv);
}
