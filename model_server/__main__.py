"""`python -m model_server`: run the HTTP model server (see model_server.cli)."""

import sys

from model_server.server import main

sys.exit(main(sys.argv[1:]))
