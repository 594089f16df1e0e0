"""Print line N (1-based) of the first ```bash block under README.md's '## Quick start' heading."""

import re
import sys
from pathlib import Path

readme = Path(__file__).resolve().parent.parent / "README.md"
section = readme.read_text(encoding="utf-8").split("## Quick start", 1)[1]
block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
if block is None:
    sys.exit("README.md: no ```bash block under '## Quick start'")
lines = [line for line in block.group(1).splitlines() if line.strip()]
print(lines[int(sys.argv[1]) - 1])
