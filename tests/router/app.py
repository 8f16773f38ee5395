"""The app's router, run from a folder without a ``pages/`` directory.

Streamlit's AppTest treats a ``pages/`` folder beside the main script as an
old-style multipage app and runs page files on their own, without the
router's sidebar; started from here, ``app.py`` runs exactly as in a browser.
"""

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parents[2] / "app.py"), run_name="__main__")
