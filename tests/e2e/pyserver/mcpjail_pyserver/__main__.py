# `python -m mcpjail_pyserver DIR`
from mcpjail_pyserver.server import main

main()
