"""A worker: proves it runs, with its own mount and the worker's own variables."""

import os
import time
from pathlib import Path

beat = Path("/app/data/worker-beat")
while True:
    beat.write_text(f"{os.environ.get('ROLE', 'none')} {time.time()}\n")
    time.sleep(0.5)
