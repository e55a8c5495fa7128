"""`python -m model_server`: run the HTTP model server (see model_server.cli)."""

import sys

from model_server.cli import run

sys.exit(run(sys.argv[1:]))
