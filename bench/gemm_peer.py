#!/usr/bin/python3
"""NumPy peer for `bin/ladon bench`: times the same cases as Ladon, with OpenBLAS doing the matrix products.

Run by BenchCommand with OPENBLAS_NUM_THREADS set to the thread count under test (it has to be set before
NumPy loads OpenBLAS, so there is one peer process per thread count). Reads one case per line on stdin and
answers each with one line on stdout, so Ladon's and NumPy's timings of a case are taken back to back:

    gemm m=1024 k=1024 n=1024 batch=1       ->  ms=23.41
    elementwise op=add n=16777216           ->  ms=12.02
    reduce op=softmax_rows n=16777216 cols=4096

Each answer is the median of at least --reps timed runs (and at least 0.3 s of them) after warm-up runs
(1 s, or 0.2 s when the same case is asked twice in a row). The first line printed, before
any case, describes the peer: NumPy's version and the BLAS library the process actually loaded.
"""
import argparse
import sys
import time

import numpy as np

MAX_RUNS = 200


def loaded_blas():
    """The BLAS shared library mapped into this process (NumPy picks it through the alternatives link)."""
    a = np.ones((64, 64), dtype=np.float32)
    a @ a  # make sure the library is loaded
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line}
    except OSError:
        return "unknown"
    openblas = sorted(p for p in paths if "libopenblas" in p)
    return (openblas or sorted(p for p in paths if "libblas" in p) or ["unknown"])[0]


def parse(line):
    words = line.split()
    return words[0], {k: v for k, v in (w.split("=", 1) for w in words[1:])}


def make_case(kind, args, rng):
    """Returns a no-argument function that runs the case once, on inputs made here (not timed)."""
    if kind == "gemm":
        m, k, n, batch = (int(args[x]) for x in ("m", "k", "n", "batch"))
        layout = args.get("ab", "nn")
        if batch > 1 and layout != "nn":
            raise ValueError("transposed operands are only for batch=1")
        shape_a = (batch, m, k) if batch > 1 else (m, k)
        shape_b = (batch, k, n) if batch > 1 else (k, n)
        # A transposed operand is the .T view of a row-major array, which BLAS reads without a copy.
        a = rng.standard_normal((k, m), dtype=np.float32).T if layout[0] == "t" else rng.standard_normal(shape_a, dtype=np.float32)
        b = rng.standard_normal((n, k), dtype=np.float32).T if layout[1] == "t" else rng.standard_normal(shape_b, dtype=np.float32)
        assert a.shape[-2:] == (m, k) and b.shape[-2:] == (k, n), (a.shape, b.shape)
        assert (layout[0] == "t") == (not a.flags.c_contiguous) or m == 1 or k == 1
        return lambda: np.matmul(a, b)
    n = int(args["n"])
    op = args["op"]
    x = rng.standard_normal(n, dtype=np.float32)
    y = rng.standard_normal(n, dtype=np.float32)
    if kind == "elementwise":
        cols = int(args.get("cols", 4096))
        rows = x.reshape(-1, cols)
        bias = y[:cols].copy()
        ops = {
            "add": lambda: np.add(x, y),
            "mul": lambda: np.multiply(x, y),
            "exp": lambda: np.exp(x),
            "add_row_bias": lambda: np.add(rows, bias),
        }
        return ops[op]
    if kind == "reduce":
        cols = int(args.get("cols", 4096))
        rows = x.reshape(-1, cols)

        def softmax_rows():
            e = np.exp(rows - rows.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)

        ops = {
            "sum": lambda: np.sum(x),
            "max": lambda: np.max(x),
            "sum_rows": lambda: rows.sum(axis=-1),
            "sum_cols": lambda: rows.sum(axis=0),
            "softmax_rows": softmax_rows,
        }
        return ops[op]
    raise ValueError("unknown case kind: " + kind)


def median_ms(run, min_reps, warmup_s):
    """Same rule as Ladon's Timing: warm up (>= 3 runs, >= warmup_s), then >= min_reps runs and >= 0.3 s timed."""
    start = time.perf_counter()
    runs = 0
    while runs < 3 or time.perf_counter() - start < warmup_s:
        run()
        runs += 1
    times = []
    start = time.perf_counter()
    while len(times) < MAX_RUNS and (len(times) < min_reps or time.perf_counter() - start < 0.3):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    times.sort()
    return 1e3 * times[len(times) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=7, help="at least this many timed runs per case")
    opts = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"peer numpy={np.__version__} blas={loaded_blas()}", flush=True)
    last_line, run = None, None
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        # The same case asked again right after (the second of Ladon's alternating rounds) is already warm.
        warmup_s = 0.2 if line == last_line else 1.0
        if line != last_line:
            kind, args = parse(line)
            last_line, run = line, make_case(kind, args, rng)
        print(f"ms={median_ms(run, opts.reps, warmup_s):.4f}", flush=True)


if __name__ == "__main__":
    main()
