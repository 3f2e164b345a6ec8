#!/usr/bin/env python3
"""PyTorch peer for `bin/ladon bench lm-step`: the same decoder-only Transformer LM, one full training step
(forward, backward, AdamW) timed the same way. Prints one line: `torch_ms=<median> torch_peak_mb=<VmHWM>`.

The model mirrors Ladon's dense TransformerLM: token embedding, pre-LN blocks (causal multi-head attention
with rotary embeddings on the first half of each head's channels, no biases in attention; ReLU feedforward
with biases), final LayerNorm, untied output projection with bias. Run by the bench with its best thread
settings (OMP_WAIT_POLICY=PASSIVE, torch.set_num_threads(threads))."""
import argparse
import math
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def rope(x, frac=0.5, base=10000.0):
    # x: [B, H, T, Dh]; rotate-half pairing on the first `n` channels
    t, dh = x.shape[-2], x.shape[-1]
    n = int(dh * frac) // 2 * 2
    if n == 0:
        return x
    inv = base ** (-torch.arange(0, n, 2, dtype=torch.float32) / n)
    ang = torch.arange(t, dtype=torch.float32)[:, None] * inv[None, :]
    cos, sin = torch.cos(ang), torch.sin(ang)
    cos = torch.cat([cos, cos], -1)
    sin = torch.cat([sin, sin], -1)
    r, rest = x[..., :n], x[..., n:]
    r1, r2 = r[..., : n // 2], r[..., n // 2:]
    rotated = torch.cat([-r2, r1], -1)
    return torch.cat([r * cos + rotated * sin, rest], -1)


class Block(nn.Module):
    def __init__(self, d, h, dff):
        super().__init__()
        self.h = h
        self.ln1 = nn.LayerNorm(d)
        self.wq = nn.Linear(d, d, bias=False)
        self.wk = nn.Linear(d, d, bias=False)
        self.wv = nn.Linear(d, d, bias=False)
        self.wo = nn.Linear(d, d, bias=False)
        self.ln2 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, dff)
        self.ff2 = nn.Linear(dff, d)

    def forward(self, x):
        b, t, d = x.shape
        u = self.ln1(x)
        q = self.wq(u).view(b, t, self.h, -1).transpose(1, 2)
        k = self.wk(u).view(b, t, self.h, -1).transpose(1, 2)
        v = self.wv(u).view(b, t, self.h, -1).transpose(1, 2)
        q, k = rope(q), rope(k)
        s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        s = s.masked_fill(mask, float("-inf"))
        a = torch.softmax(s, -1) @ v
        x = x + self.wo(a.transpose(1, 2).reshape(b, t, d))
        return x + self.ff2(F.relu(self.ff1(self.ln2(x))))


class LM(nn.Module):
    def __init__(self, vocab, d, layers, heads, dff):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList([Block(d, heads, dff) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)
        self.out = nn.Linear(d, vocab)

    def forward(self, ids):
        x = self.emb(ids)
        for blk in self.blocks:
            x = blk(x)
        return self.out(self.ln(x))


def peak_resident_mb():
    # VmHWM belongs to this process's own address space. ru_maxrss is not usable here: on Linux it carries
    # over from the parent across fork and exec, so it would report the JVM that started this script.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--d-ff", type=int, default=1024)
    p.add_argument("--context", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    model = LM(a.vocab, a.d_model, a.layers, a.heads, a.d_ff)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ids = torch.randint(0, a.vocab, (a.batch, a.context + 1))
    x, y = ids[:, :-1], ids[:, 1:]
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x).reshape(-1, a.vocab), y.reshape(-1))
        loss.backward()
        opt.step()
        dt = (time.perf_counter() - t0) * 1e3
        if i >= a.warmup:
            times.append(dt)
    peak_mb = peak_resident_mb()
    print(f"torch_ms={statistics.median(times):.1f} torch_peak_mb={peak_mb:.0f} torch_loss={loss.item():.4f}")


if __name__ == "__main__":
    main()
