#!/usr/bin/env python3
"""PyTorch peer of dev.ladon.cuda.bench.GemmBench: square matmul throughput on cuda:0 per precision,
printed in the same line format so the two can be compared in one run:

    gemm torch precision=fp32 n=4096 torch_tflops=51.6 ms=2.664

fp32: float32 with TF32 disabled; tf32: float32 with TF32 enabled; bf16: bfloat16 inputs and output.
Timing as in GemmBench: a warm-up, then `iters` products between two synchronisations (host clock).

Usage: python3 gemm_peer.py [--sizes 1024,2048,4096] [--precisions fp32,tf32,bf16] [--iters 20]
"""
import argparse
import time

import torch


def run(precision: str, n: int, iters: int) -> None:
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    gen = torch.Generator(device="cuda").manual_seed(1)
    a = torch.randn(n, n, device="cuda", dtype=dtype, generator=gen)
    b = torch.randn(n, n, device="cuda", dtype=dtype, generator=gen)
    c = a @ b
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(iters):
        c = a @ b
    torch.cuda.synchronize()
    seconds = (time.perf_counter() - t0) / iters
    tflops = 2.0 * n * n * n / seconds / 1e12
    print(f"gemm torch precision={precision} n={n} torch_tflops={tflops:.1f} ms={seconds * 1e3:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024,2048,4096")
    parser.add_argument("--precisions", default="fp32,tf32,bf16")
    parser.add_argument("--iters", type=int, default=20)
    args = parser.parse_args()
    print(f"# device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    for precision in args.precisions.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            run(precision, n, args.iters)


if __name__ == "__main__":
    main()
