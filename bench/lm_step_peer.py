#!/usr/bin/env python3
"""PyTorch peer for `bin/ladon bench lm-step`: the same language model as Ladon's MoeLanguageModel, one full
training step (forward, cross-entropy, backward, AdamW) timed the same way, on the CPU or on a GPU.

The model mirrors Ladon's layer by layer and names its parameters exactly like Ladon's state dict, so the
weights Ladon writes (--weights, a safetensors file) load with strict=True:
  lm.embedding -> dropout -> L pre-LN blocks -> lm.finalNorm -> dropout -> lm.output (untied, with bias);
  block: h = x + Drop(attention(LN1(x), LN1([memory; x]))); out = h + Drop(FF(LN2(h))), FF = up/ReLU/down
  with biases and dropout on the hidden units.
Attention (no biases anywhere):
  dense XL   Transformer-XL relative attention as nn.RelativeMultiHeadAttention: learnt content and position
             biases u, v [H, d_h] and a learnt score scale; R = PE(key - query) W_P.
  dense RoPE causal multi-head attention, rotate-half RoPE on the first half of each head's channels.
  SwitchHead per head E value experts [d, d_h] chosen by a source-side selector and E output experts
             [d_h, d] chosen by a destination-side selector; top-k indices without gradient, gates =
             sigmoid of the chosen logits, no renormalisation; one attention matrix per head; the output is
             the sum over heads and chosen experts. XL adds Q . R (no u, v, scale 1/sqrt(d_h)).
XL memory: each block's input from the previous step, detached, is the next step's memory (one block long).

How the experts are computed (--expert-compute): "masked" multiplies by every expert in one matrix product
and weights the results with the gates scattered into an [.., H, E] tensor that is zero for unchosen
experts (the spec's sum exactly, gradients included: unchosen experts and logits get zero, at E/k times
the projection FLOPs); "gathered" loops over (head, expert), gathers the rows that chose it and adds
their gated products back with index_add (the spec's FLOPs, many small kernels).
Attention (--attention): "sdpa" is torch's fused scaled_dot_product_attention (the XL position term and
the causal mask go in as a float mask); "math" builds the score matrices explicitly. sdpa is used where
this torch has it (2.0 or newer) unless math is asked for.

Output: informational lines, then one result line
  torch_ms=<median step> torch_tok_s=<tokens per second> torch_peak_mb=<peak> torch_loss=<last loss>
  torch_params=<count> [torch_check=<loss1>,<loss2>]
With --interleave the timed steps are asked for one at a time on standard input (after 'ready'), so that
Ladon can time its own steps between them and both medians come from the same minutes.
Peak memory is torch.cuda.max_memory_allocated() on a GPU and the process's VmHWM on the CPU.
torch_check: with --weights, the mean cross-entropy of the file's check.ids in eval mode (no dropout)
over two consecutive segments, the second with the first's memory, before any training step.

`--self-test` checks the relative shift, sdpa against math and masked against gathered on tiny sizes.
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- position encodings -------------------------------------------------------------------------------

_ENCODINGS = {}


def relative_encoding(keys, dim, device, dtype):
    """[keys, dim]: row r is PE(r - (keys - 1)), PE[2m] = sin(delta w_m), PE[2m + 1] = cos(delta w_m),
    w_m = 10000^(-2m / dim) (as nn.SinusoidalEncoding.relative). Cached: a copy to the GPU in every layer
    of every step would wait for the queued kernels."""
    key = (keys, dim, device, dtype)
    if key not in _ENCODINGS:
        _ENCODINGS[key] = sinusoid(keys, dim).to(device=device, dtype=dtype)
    return _ENCODINGS[key]


def sinusoid(keys, dim):
    delta = torch.arange(keys, dtype=torch.float64) - (keys - 1)
    m = torch.arange(dim, dtype=torch.float64) // 2
    angle = delta[:, None] * torch.pow(10000.0, -2.0 * m / dim)[None, :]
    even = (torch.arange(dim) % 2 == 0)[None, :]
    return torch.where(even, torch.sin(angle), torch.cos(angle))


def relative_shift(scores_by_row, queries):
    """scores_by_row [B, H, T, Tk] with column r for distance r - (Tk - 1) (key - query), to [B, H, T, Tk]
    indexed by key j: out[i, j] = in[i, j + T - 1 - i], the Transformer-XL shift (pad one zero column,
    reinterpret the rows). Entries of keys a query cannot see hold other rows' values: mask them."""
    b, h, t, tk = scores_by_row.shape
    padded = F.pad(scores_by_row, (1, 0))  # [B, H, T, Tk + 1]
    shifted = padded.view(b, h, tk + 1, t)[:, :, 1:, :]
    return shifted.reshape(b, h, t, tk)


class Rotary:
    """Rotate-half RoPE on the first n = 2 floor(fraction d_h / 2) channels (as nn.RotaryEmbedding)."""

    def __init__(self, head_dim, fraction=0.5, base=10000.0):
        self.n = 2 * int(math.floor(fraction * head_dim / 2))
        self.base = base
        self.cache = {}

    def __call__(self, x, offset):
        t = x.shape[-2]
        key = (t, offset, x.device, x.dtype)
        if key not in self.cache:
            half = self.n // 2
            inv = torch.pow(self.base, -2.0 * torch.arange(half, dtype=torch.float64) / self.n)
            angle = (torch.arange(t, dtype=torch.float64) + offset)[:, None] * inv[None, :]
            self.cache[key] = (torch.cos(angle).to(x.device, x.dtype), torch.sin(angle).to(x.device, x.dtype))
        cos, sin = self.cache[key]
        half = self.n // 2
        x1, x2, rest = x[..., :half], x[..., half:self.n], x[..., self.n:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin, rest], -1)


# ---- attention ----------------------------------------------------------------------------------------

def has_sdpa():
    """Whether this torch has scaled_dot_product_attention with the scale argument (2.1 or newer)."""
    major, minor = (int(part) for part in torch.__version__.split(".")[:2])
    return (major, minor) >= (2, 1)


def visible(t, tk, device):
    """[T, Tk] bool: query i (at position Tk - T + i) sees key j iff j <= i + Tk - T."""
    return torch.ones(t, tk, dtype=torch.bool, device=device).tril(tk - t)


def attend(q, k, v, position, scale, use_sdpa):
    """softmax(scale q k^T + position, causal with memory) v. q [B, H, T, D], k, v [B, H, Tk, D];
    position [B, H, T, Tk] (already scaled) or None."""
    t, tk = q.shape[-2], k.shape[-2]
    if use_sdpa:
        if position is None and t == tk:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale)
        mask = visible(t, tk, q.device)
        if position is None:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
        bias = position.masked_fill(~mask, float("-inf"))
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=scale)
    scores = (q @ k.transpose(-1, -2)) * scale
    if position is not None:
        scores = scores + position
    scores = scores.masked_fill(~visible(t, tk, q.device), float("-inf"))
    return torch.softmax(scores, -1) @ v


def split_heads(x, heads):
    b, t, _ = x.shape
    return x.view(b, t, heads, -1).transpose(1, 2)


def merge_heads(o):
    b, h, t, dh = o.shape
    return o.transpose(1, 2).reshape(b, t, h * dh)


def add_dense_projections(attention, d, heads, head_dim):
    """The dense attention's wq, wk, wv [d -> H d_h] and wo [H d_h -> d], Linear layers without bias."""
    attention.wq = nn.Linear(d, heads * head_dim, bias=False)
    attention.wk = nn.Linear(d, heads * head_dim, bias=False)
    attention.wv = nn.Linear(d, heads * head_dim, bias=False)
    attention.wo = nn.Linear(heads * head_dim, d, bias=False)


class RelativeMultiHeadAttention(nn.Module):
    """Dense Transformer-XL attention: a_ij = scale ((q_i + u) . k_j + (q_i + v) . R_{j - i})."""

    def __init__(self, d, heads, head_dim, use_sdpa):
        super().__init__()
        self.heads, self.head_dim, self.use_sdpa = heads, head_dim, use_sdpa
        add_dense_projections(self, d, heads, head_dim)
        self.wp = nn.Linear(d, heads * head_dim, bias=False)
        self.contentBias = nn.Parameter(torch.zeros(heads, head_dim))
        self.positionBias = nn.Parameter(torch.zeros(heads, head_dim))
        self.scale = nn.Parameter(torch.full((1,), 1 / math.sqrt(head_dim)))

    def forward(self, x, source):
        tk = source.shape[1]
        q = split_heads(self.wq(x), self.heads)
        k = split_heads(self.wk(source), self.heads)
        v = split_heads(self.wv(source), self.heads)
        pe = relative_encoding(tk, x.shape[-1], x.device, x.dtype)
        r = self.wp(pe).view(tk, self.heads, self.head_dim).transpose(0, 1)  # [H, Tk, Dh]
        u = self.contentBias[None, :, None, :]
        w = self.positionBias[None, :, None, :]
        position = relative_shift((q + w) @ r.transpose(-1, -2), q.shape[2]) * self.scale
        # The learnt scale multiplies q, so the fused kernel's own scale is 1.
        o = attend((q + u) * self.scale, k, v, position, 1.0, self.use_sdpa)
        return self.wo(merge_heads(o))


class MultiHeadAttention(nn.Module):
    """Dense causal attention with RoPE on half of each head's channels; queries offset by the memory."""

    def __init__(self, d, heads, head_dim, use_sdpa):
        super().__init__()
        self.heads, self.head_dim, self.use_sdpa = heads, head_dim, use_sdpa
        add_dense_projections(self, d, heads, head_dim)
        self.rotary = Rotary(head_dim)

    def forward(self, x, source):
        memory = source.shape[1] - x.shape[1]
        q = self.rotary(split_heads(self.wq(x), self.heads), memory)
        k = self.rotary(split_heads(self.wk(source), self.heads), 0)
        v = split_heads(self.wv(source), self.heads)
        o = attend(q, k, v, None, 1 / math.sqrt(self.head_dim), self.use_sdpa)
        return self.wo(merge_heads(o))


class SwitchHeadAttention(nn.Module):
    """SwitchHead (spec switchhead.md section 2): value experts chosen per source token and head, output
    experts chosen per destination token and head, sigmoid gates, one attention matrix per head."""

    def __init__(self, d, heads, head_dim, experts, active, xl, use_sdpa, expert_compute):
        super().__init__()
        self.heads, self.head_dim, self.experts, self.active = heads, head_dim, experts, active
        self.use_sdpa, self.expert_compute = use_sdpa, expert_compute
        self.wq = nn.Parameter(torch.randn(d, heads * head_dim) / math.sqrt(d))
        self.wk = nn.Parameter(torch.randn(d, heads * head_dim) / math.sqrt(d))
        self.wv = nn.Parameter(torch.randn(heads, experts, d, head_dim) / math.sqrt(d))
        self.wo = nn.Parameter(torch.randn(heads, experts, head_dim, d) / math.sqrt(heads * head_dim))
        self.sourceSelector = nn.Parameter(torch.randn(heads * experts, d) / math.sqrt(d))
        self.destinationSelector = nn.Parameter(torch.randn(heads * experts, d) / math.sqrt(d))
        self.wp = nn.Parameter(torch.randn(d, heads * head_dim) / math.sqrt(d)) if xl else None
        self.rotary = None if xl else Rotary(head_dim)

    def gates(self, tokens, selector):
        """tokens [N, d] -> chosen experts [N, H, k] (no gradient) and their gates sigmoid(z) [N, H, k]."""
        z = (tokens @ selector.t()).view(-1, self.heads, self.experts)
        with torch.no_grad():
            chosen = z.topk(self.active, dim=-1).indices
        return chosen, z.gather(-1, chosen).sigmoid()

    def experts_masked(self, rows, weight, chosen, gate):
        """rows [N, H, Din] (one row per head) or [N, Din] (shared by the heads); weight [H, E, Din, Dout];
        returns [N, H, Dout] = sum over the chosen e of gate * rows[h] @ weight[h, e]."""
        h, e, din, dout = weight.shape
        full_gate = torch.zeros(chosen.shape[0], h, e, device=gate.device, dtype=gate.dtype)
        full_gate = full_gate.scatter(-1, chosen, gate)  # zero for unchosen experts
        if rows.dim() == 2:
            # Shared input (values): all H E products in one matrix product, then the gated sum over e.
            every = (rows @ weight.permute(2, 0, 1, 3).reshape(din, h * e * dout)).view(-1, h, e, dout)
            return (every * full_gate[..., None]).sum(2)
        # Per-head input (outputs): gate the inputs, then one product with all experts stacked along K.
        gated = (rows[:, :, None, :] * full_gate[..., None]).reshape(-1, h * e * din)
        return (gated @ weight.reshape(h * e * din, dout)).view(-1, 1, dout)

    def experts_gathered(self, rows, weight, chosen, gate):
        """As experts_masked, computing only the chosen (row, expert) products, expert by expert."""
        h, e, din, dout = weight.shape
        n = chosen.shape[0]
        per_head = []
        for head in range(h):
            x = rows if rows.dim() == 2 else rows[:, head]
            out = torch.zeros(n, dout, device=rows.device, dtype=rows.dtype)
            for expert in range(e):
                token, slot = (chosen[:, head] == expert).nonzero(as_tuple=True)
                if token.numel() == 0:
                    continue
                y = (x.index_select(0, token) @ weight[head, expert]) * gate[token, head, slot][:, None]
                out = out.index_add(0, token, y)
            per_head.append(out)
        out = torch.stack(per_head, 1)
        return out if rows.dim() == 2 else out.sum(1, keepdim=True)

    def forward(self, x, source):
        b, t, d = x.shape
        tk = source.shape[1]
        x_flat, s_flat = x.reshape(b * t, d), source.reshape(b * tk, d)
        value_experts, value_gates = self.gates(s_flat, self.sourceSelector)
        output_experts, output_gates = self.gates(x_flat, self.destinationSelector)
        project = self.experts_masked if self.expert_compute == "masked" else self.experts_gathered
        v = project(s_flat, self.wv, value_experts, value_gates).view(b, tk, self.heads, -1).transpose(1, 2)
        q = split_heads(x @ self.wq, self.heads)
        k = split_heads(source @ self.wk, self.heads)
        scale = 1 / math.sqrt(self.head_dim)
        position = None
        if self.wp is not None:
            pe = relative_encoding(tk, d, x.device, x.dtype)
            r = (pe @ self.wp).view(tk, self.heads, self.head_dim).transpose(0, 1)  # [H, Tk, Dh]
            position = relative_shift(q @ r.transpose(-1, -2), t) * scale
        else:
            q = self.rotary(q, tk - t)
            k = self.rotary(k, 0)
        o = attend(q, k, v, position, scale, self.use_sdpa)  # [B, H, T, Dh]
        o_rows = o.transpose(1, 2).reshape(b * t, self.heads, self.head_dim)
        return project(o_rows, self.wo, output_experts, output_gates).view(b, t, d)


# ---- the model ----------------------------------------------------------------------------------------

class FeedForward(nn.Module):
    def __init__(self, d, d_ff, dropout):
        super().__init__()
        self.up = nn.Linear(d, d_ff)
        self.down = nn.Linear(d_ff, d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.down(self.dropout(F.relu(self.up(x))))


class Block(nn.Module):
    def __init__(self, a, use_sdpa):
        super().__init__()
        self.norm1 = nn.LayerNorm(a.d_model)
        if a.variant == "switchhead":
            self.attention = SwitchHeadAttention(a.d_model, a.heads, a.d_head, a.experts, a.active,
                                                 a.positions == "xl", use_sdpa, a.expert_compute)
        elif a.positions == "xl":
            self.attention = RelativeMultiHeadAttention(a.d_model, a.heads, a.d_head, use_sdpa)
        else:
            self.attention = MultiHeadAttention(a.d_model, a.heads, a.d_head, use_sdpa)
        self.norm2 = nn.LayerNorm(a.d_model)
        self.feedForward = FeedForward(a.d_model, a.d_ff, a.dropout)
        self.dropout = nn.Dropout(a.dropout)

    def forward(self, x, memory):
        if memory is None:
            normed = source = self.norm1(x)
        else:
            source = self.norm1(torch.cat([memory, x], 1))
            normed = source[:, memory.shape[1]:]
        h = x + self.dropout(self.attention(normed, source))
        return h + self.dropout(self.feedForward(self.norm2(h)))


class Transformer(nn.Module):
    def __init__(self, a, use_sdpa):
        super().__init__()
        self.embedding = nn.Embedding(a.vocab, a.d_model)
        self.dropout = nn.Dropout(a.dropout)
        self.blocks = nn.ModuleList([Block(a, use_sdpa) for _ in range(a.layers)])
        self.finalNorm = nn.LayerNorm(a.d_model)
        self.output = nn.Linear(a.d_model, a.vocab)

    def forward(self, ids, memory):
        """ids [B, T] -> logits [B, T, vocab] and each block's input (detached), the next memory."""
        x = self.dropout(self.embedding(ids))
        next_memory = []
        for i, block in enumerate(self.blocks):
            next_memory.append(x.detach())
            x = block(x, None if memory is None else memory[i])
        return self.output(self.dropout(self.finalNorm(x))), next_memory


class LanguageModel(nn.Module):
    """Ladon's MoeLanguageModel holds its Transformer as "lm"; so does this, for matching names."""

    def __init__(self, a, use_sdpa):
        super().__init__()
        self.lm = Transformer(a, use_sdpa)

    def forward(self, ids, memory=None):
        return self.lm(ids, memory)


# ---- Ladon's weights ----------------------------------------------------------------------------------

SAFETENSORS_DTYPES = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32, "I64": torch.int64}


def load_safetensors(path):
    """name -> CPU tensor from a safetensors file (8-byte little-endian header size, JSON header, data)."""
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
        data = f.read()
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = SAFETENSORS_DTYPES[entry["dtype"]]
        flat = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
        out[name] = flat.reshape(entry["shape"])
    return out


# ---- timing -------------------------------------------------------------------------------------------

def mean_loss(model, ids, vocab, memory):
    logits, next_memory = model(ids[:, :-1], memory)
    return F.cross_entropy(logits.reshape(-1, vocab), ids[:, 1:].reshape(-1)), next_memory


def check_losses(model, ids, a):
    """Eval-mode losses of two consecutive segments of ids [B, 2T + 1], the second with the first's memory."""
    model.eval()
    with torch.no_grad():
        t = a.context
        first, memory = mean_loss(model, ids[:, :t + 1], a.vocab, None)
        second, _ = mean_loss(model, ids[:, t:], a.vocab, memory if a.memory > 0 else None)
    model.train()
    return first.item(), second.item()


def peak_resident_mb():
    # VmHWM belongs to this process's own address space; ru_maxrss would carry over from the JVM that
    # started this script (it survives fork and exec on Linux).
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variant", choices=["dense", "switchhead"], default="dense")
    p.add_argument("--positions", choices=["xl", "rope"], default="rope")
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--d-head", type=int, default=64)
    p.add_argument("--d-ff", type=int, default=1024)
    p.add_argument("--experts", type=int, default=0, help="E per head (SwitchHead)")
    p.add_argument("--active", type=int, default=0, help="k experts per token and head (SwitchHead)")
    p.add_argument("--context", type=int, default=128)
    p.add_argument("--memory", type=int, default=0, help="memory tokens (XL: the context; 0 for none)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--precision", choices=["fp32", "tf32"], default="fp32", help="float32 matmuls on a GPU")
    p.add_argument("--threads", type=int, default=2, help="CPU threads")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--weights", help="Ladon's initial weights, bench.ids and check.ids (safetensors)")
    p.add_argument("--attention", choices=["sdpa", "math"], default="sdpa")
    p.add_argument("--expert-compute", choices=["masked", "gathered"], default="masked")
    p.add_argument("--interleave", action="store_true",
                   help="after the warm-up, print 'ready' and run one timed step per 'step' line on standard input "
                        "(answering step_ms=...), until 'done'; the result line then covers those steps")
    p.add_argument("--self-test", action="store_true")
    return p.parse_args(argv)


def main():
    a = parse_args()
    if a.self_test:
        self_test()
        return
    device = torch.device(a.device)
    cuda = device.type == "cuda"
    torch.set_num_threads(a.threads)
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = a.precision == "tf32"
        torch.backends.cudnn.allow_tf32 = a.precision == "tf32"
    use_sdpa = a.attention == "sdpa" and has_sdpa()
    torch.manual_seed(0)
    model = LanguageModel(a, use_sdpa)
    params = sum(p.numel() for p in model.parameters())
    check = None
    if a.weights:
        state = load_safetensors(a.weights)
        bench_ids = state.pop("bench.ids")
        check_ids = state.pop("check.ids")
        model.load_state_dict(state, strict=True)
        model.to(device)
        check = check_losses(model, check_ids.to(device=device, dtype=torch.int64), a)
        ids = bench_ids.to(device=device, dtype=torch.int64)
    else:
        model.to(device)
        ids = torch.randint(0, a.vocab, (a.batch, a.context + 1), device=device)
    x, y = ids[:, :-1], ids[:, 1:]
    # Fused AdamW where torch has it for the device (one kernel for all parameters, torch's fastest).
    fused = cuda and "fused" in torch.optim.AdamW.__init__.__code__.co_varnames
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay, betas=(0.9, 0.999),
                            eps=1e-8, **({"fused": True} if fused else {}))
    model.train()
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    print(f"torch {torch.__version__}, device {torch.cuda.get_device_name(device) if cuda else 'cpu'}, "
          f"attention {'sdpa' if use_sdpa else 'math'}"
          + (f", experts {a.expert_compute}" if a.variant == "switchhead" else "")
          + f", AdamW {'fused' if fused else 'default'}, matmul {a.precision if cuda else 'fp32'}", flush=True)
    state = {"memory": None, "loss": None}

    def train_step():
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits, next_memory = model(x, state["memory"])
        loss = F.cross_entropy(logits.reshape(-1, a.vocab), y.reshape(-1))
        loss.backward()
        opt.step()
        state["memory"] = next_memory if a.memory > 0 else None
        state["loss"] = loss
        if cuda:
            torch.cuda.synchronize(device)
        return time.perf_counter() - t0

    for _ in range(a.warmup):
        train_step()
    times = []
    if a.interleave:
        # Ladon times its steps between ours: one step per "step" line, until "done" or the end of input.
        print("ready", flush=True)
        for request in sys.stdin:
            if request.strip() != "step":
                break
            times.append(train_step())
            print(f"step_ms={times[-1] * 1e3:.3f}", flush=True)
        if not times:
            raise SystemExit("no step was asked for")
    else:
        for _ in range(a.steps):
            times.append(train_step())
    loss = state["loss"]
    step = statistics.median(times)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else peak_resident_mb()
    line = (f"torch_ms={step * 1e3:.3f} torch_tok_s={a.batch * a.context / step:.1f} torch_peak_mb={peak:.0f} "
            f"torch_loss={loss.item():.6f} torch_params={params}")
    if check is not None:
        line += f" torch_check={check[0]:.7f},{check[1]:.7f}"
    print(line, flush=True)


# ---- self-test ----------------------------------------------------------------------------------------

def self_test():
    torch.manual_seed(0)
    # The relative shift against its definition.
    b, h, t, tk = 2, 3, 4, 7
    raw = torch.randn(b, h, t, tk)
    shifted = relative_shift(raw, t)
    for i in range(t):
        for j in range(tk):
            if j <= i + tk - t:
                assert torch.equal(shifted[:, :, i, j], raw[:, :, i, j + t - 1 - i]), (i, j)
    # sdpa against math, masked experts against gathered, for every architecture.
    for variant, positions in [("dense", "xl"), ("dense", "rope"), ("switchhead", "xl"), ("switchhead", "rope")]:
        a = parse_args(["--variant", variant, "--positions", positions, "--vocab", "11", "--d-model", "12",
                        "--layers", "2", "--heads", "2", "--d-head", "4", "--d-ff", "16", "--experts", "3",
                        "--active", "2", "--context", "5", "--memory", "5" if positions == "xl" else "0"])
        ids = torch.randint(0, a.vocab, (2, 2 * a.context + 1))
        reference = None
        settings = [(False, "gathered"), (False, "masked")]
        if has_sdpa():
            settings.append((True, "masked"))
        for use_sdpa, compute in settings:
            a.expert_compute = compute
            torch.manual_seed(1)
            model = LanguageModel(a, use_sdpa)
            model.train()
            loss, memory = mean_loss(model, ids[:, :a.context + 1], a.vocab, None)
            loss2, _ = mean_loss(model, ids[:, a.context:], a.vocab, memory if a.memory > 0 else None)
            (loss + loss2).backward()
            grads = torch.cat([p.grad.flatten() for p in model.parameters()])
            if reference is None:
                reference = (loss2.item(), grads)
            else:
                assert abs(loss2.item() - reference[0]) < 1e-5, (variant, positions, use_sdpa, compute)
                assert torch.allclose(grads, reference[1], atol=1e-5), (variant, positions, use_sdpa, compute)
        print(f"self-test {variant} {positions}: {len(settings)} settings agree (loss {reference[0]:.5f})")
    print("self-test passed")


if __name__ == "__main__":
    main()
