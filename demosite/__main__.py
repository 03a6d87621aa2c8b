"""`python -m demosite` runs the demo platform."""

from __future__ import annotations

from demosite.cli import main

if __name__ == "__main__":
    main()
