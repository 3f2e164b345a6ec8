#!/usr/bin/env bash
# Lists the lines of src/main/cuda/*.cu that no kernel executed, after
#   cuda-backend/emulator/build.sh --coverage
#   LD_LIBRARY_PATH=$PWD/cuda-backend/target/cuda-emulator mvn test -Dladon.test.groups=gpu
# A line counts as executed when any template instance of it ran.
set -euo pipefail
gen=$(cd "$(dirname "$0")/.." && pwd)/target/cuda-emulator/generated
ls "$gen"/*.gcda >/dev/null 2>&1 || { echo "coverage: no counters in $gen (build with --coverage, then run the gpu tests)" >&2; exit 1; }
cd "$gen"
for cpp in *.cpp; do gcov -o . "$cpp" >/dev/null 2>&1 || true; done
python3 - <<'PY'
import glob, re
for path in sorted(glob.glob("*.cu.inc.gcov")):
    seen, missed, lines = set(), [], 0
    for text in open(path):
        m = re.match(r"^\s*([^:|]+):\s*(\d+):(.*)$", text)
        if not m or int(m.group(2)) == 0 or int(m.group(2)) in seen:
            continue  # gcov repeats each line per template instance after its total
        number, count = int(m.group(2)), m.group(1).strip()
        seen.add(number)
        if count != "-":
            lines += 1
            if count.startswith("#####"):
                missed.append(f"  {number}: {m.group(3).strip()}")
    print(f"{path.replace('.inc.gcov', '')}: {lines - len(missed)} of {lines} lines executed")
    print("\n".join(missed)) if missed else None
PY
