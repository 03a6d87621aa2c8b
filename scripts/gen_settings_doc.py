"""Writes docs/settings.md from the settings model (hiscrm_common/config_model.py).

Run after changing a setting: `.venv/bin/python scripts/gen_settings_doc.py`.
tests/test_settings.py fails while the committed file is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hiscrm_common import config_docs  # noqa: E402  (after the path above)

TARGET = ROOT / "docs" / "settings.md"


def main() -> None:
    TARGET.write_text(config_docs.markdown() + "\n")
    sys.stderr.write(f"wrote {TARGET.relative_to(ROOT)}\n")


if __name__ == "__main__":
    main()
