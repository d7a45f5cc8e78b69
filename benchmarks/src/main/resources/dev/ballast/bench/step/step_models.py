# PyTorch's twins of the models of `ballast bench step` (dev.ballast.bench.step.StepModels), the one definition used
# both by the benchmark (run with python3 -c) and by the replay-test generator
# (benchmarks/src/test/python/make_step_replay.py). Parameter names are Ballast's, so a state dict moves across as is.
# The reference models come from the CPU-speed issue's ../shared/reference/pytorch-cpu-steps.py (mlp, rnn, lstm,
# transformer) and pytorch-e2e-steps.py (mlp50, lstm256, gpt), eager mode, fp32.
import torch

F = torch.nn.functional


class Mlp(torch.nn.Module):
    """Linear(inp, w), act, (depth - 1) x (Linear(w, w), act), Linear(w, out): names 0.weight, 2.weight, ..."""

    def __init__(s, inp, width, depth, out, act):
        super().__init__()
        layers = []
        prev = inp
        for _ in range(depth):
            layers += [torch.nn.Linear(prev, width), act()]
            prev = width
        layers.append(torch.nn.Linear(prev, out))
        s.net = torch.nn.Sequential(*layers)

    def forward(s, x):
        return s.net(x)

    def ballast_state(s):
        return {k[len("net."):]: v for k, v in s.state_dict().items()}


class Rec(torch.nn.Module):
    """A one-layer RNN/LSTM over [B, T, inp] (batch first) and a linear head on the last step: rnn.*, head.*"""

    def __init__(s, cell, inp, hidden, out, squeeze):
        super().__init__()
        s.rnn = cell(inp, hidden, batch_first=True)
        s.head = torch.nn.Linear(hidden, out)
        s.squeeze = squeeze

    def forward(s, x):
        h, _ = s.rnn(x)
        y = s.head(h[:, -1])
        return y.squeeze(-1) if s.squeeze else y

    def ballast_state(s):
        return dict(s.state_dict())


class Decoder(torch.nn.Module):
    """Token embedding + learned positions (a [T, d] parameter), pre-norm causal blocks (GELU, ff 4d, no dropout),
    an optional final LayerNorm, a linear head per position. Names follow Ballast's TransformerBlock."""

    def __init__(s, vocab, d, layers, heads, T, final_norm):
        super().__init__()
        s.tok = torch.nn.Embedding(vocab, d)
        s.pos = torch.nn.Parameter(torch.zeros(T, d))
        s.blocks = torch.nn.ModuleList(
            torch.nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
            for _ in range(layers))
        s.ln = torch.nn.LayerNorm(d) if final_norm else None
        s.head = torch.nn.Linear(d, vocab)
        s.register_buffer("mask", torch.nn.Transformer.generate_square_subsequent_mask(T), persistent=False)

    def forward(s, x):
        h = s.tok(x) + s.pos
        for b in s.blocks:
            h = b(h, src_mask=s.mask, is_causal=True)
        if s.ln is not None:
            h = s.ln(h)
        return s.head(h)

    RENAME = (("self_attn.", "attn."), ("linear1.", "mlp.fc1."), ("linear2.", "mlp.fc2."), ("norm1.", "ln1."), ("norm2.", "ln2."))

    def ballast_state(s):
        out = {}
        for k, v in s.state_dict().items():
            for a, b in Decoder.RENAME:
                k = k.replace(a, b)
            out[k] = v
        return out


def build(spec, gen):
    """The model, a batch (x, y) drawn from gen, the loss function and an optimizer factory for a spec dict:
    {kind, ...sizes, optimizer, lr}. Mirrors StepModels.java."""
    k = spec["kind"]
    B = spec["batch"]
    if k == "mlp":
        act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[spec["act"]]
        model = Mlp(spec["in"], spec["width"], spec["depth"], spec["out"], act)
        x = torch.randn(B, spec["in"], generator=gen)
        y = torch.randint(0, spec["out"], (B,), generator=gen)
        loss = F.cross_entropy
    elif k in ("rnn", "lstm"):
        cell = torch.nn.RNN if k == "rnn" else torch.nn.LSTM
        T = spec["time"]
        model = Rec(cell, 2, spec["hidden"], 1, spec["squeeze"])
        v = torch.rand(B, T, generator=gen)
        m = torch.zeros(B, T)
        idx = torch.stack([torch.randint(0, T // 2, (B,), generator=gen), torch.randint(T // 2, T, (B,), generator=gen)], 1)
        m.scatter_(1, idx, 1.0)
        x = torch.stack([v, m], -1)
        y = (v * m).sum(1)
        if not spec["squeeze"]:
            y = y.unsqueeze(1)
        loss = F.mse_loss
    elif k == "decoder":
        V, T = spec["vocab"], spec["time"]
        model = Decoder(V, spec["width"], spec["layers"], spec["heads"], T, spec["final_norm"])
        x = torch.randint(0, V, (B, T), generator=gen)
        y = torch.randint(0, V, (B, T), generator=gen)
        loss = lambda o, t: F.cross_entropy(o.reshape(-1, V), t.reshape(-1))
    else:
        raise ValueError("unknown model kind " + k)

    def optimizer(params, fused):
        o, lr = spec["optimizer"], spec["lr"]
        if o == "sgd":
            return torch.optim.SGD(params, lr, momentum=spec["momentum"])
        cls = torch.optim.Adam if o == "adam" else torch.optim.AdamW
        return cls(params, lr, fused=True) if fused else cls(params, lr)

    return model, x, y, loss, optimizer


def make_step(model, x, y, loss, opt, max_norm):
    """One full training step: zero_grad, forward, backward, clip_grad_norm_(max_norm), optimizer step."""
    params = [p for p in model.parameters()]

    def step():
        opt.zero_grad(set_to_none=True)
        l = loss(model(x), y)
        l.backward()
        torch.nn.utils.clip_grad_norm_(params, max_norm)
        opt.step()
        return l
    return step
