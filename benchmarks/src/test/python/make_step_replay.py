# Writes the full-step replay cases of StepReplayTest (benchmarks/src/test/resources/step-replay/*.safetensors), in
# the manner of llm.c's test_gpt2.cu: for each model of `ballast bench step`, PyTorch takes one full training step
# (forward, backward, clip_grad_norm_(1.0), optimizer) from seeded weights on a seeded batch and records the
# weights, the batch, the loss, every gradient, the clipped gradients and the updated weights.
#
# The four reference models (mlp, rnn, lstm, transformer) are recorded at their benchmark sizes. The three
# end-to-end models are large (13M, 0.27M and 3.4M parameters, up to 52 MB per copy of the weights), so their cases
# use REDUCED sizes with the same structure (named *_small; sizes in SMALL below) to keep the files small.
#
# Usage (PyTorch 2.x, CPU): PYTHONPATH=/path/to/torch python3 benchmarks/src/test/python/make_step_replay.py
# Made with PyTorch 2.13.0+cpu.
import json, os, sys
import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "main", "resources", "dev", "ballast", "bench", "step"))
import step_models  # noqa: E402

OUT = os.path.join(HERE, "..", "resources", "step-replay")

# Same dicts as StepModels.java's reference specs for the first four (the full sizes).
CASES = {
    "mlp": dict(kind="mlp", batch=128, **{"in": 2}, width=64, depth=19, out=2, act="tanh", optimizer="adam", lr=1e-3),
    "rnn": dict(kind="rnn", batch=64, time=50, hidden=100, squeeze=False, optimizer="sgd", lr=0.1, momentum=0.9),
    "lstm": dict(kind="lstm", batch=64, time=50, hidden=128, squeeze=False, optimizer="adam", lr=1e-3),
    "transformer": dict(kind="decoder", batch=64, vocab=12, time=17, width=64, layers=2, heads=4, final_norm=False,
                        optimizer="adam", lr=1e-3),
    # reduced twins of the end-to-end models
    "mlp50_small": dict(kind="mlp", batch=8, **{"in": 16}, width=16, depth=50, out=10, act="relu", optimizer="adamw", lr=1e-4),
    "lstm256_small": dict(kind="lstm", batch=8, time=20, hidden=32, squeeze=True, optimizer="adamw", lr=1e-4),
    "gpt_small": dict(kind="decoder", batch=4, vocab=50, time=16, width=32, layers=2, heads=4, final_norm=True,
                      optimizer="adamw", lr=1e-4),
}
MAX_NORM = 1.0

os.makedirs(OUT, exist_ok=True)
for i, (name, spec) in enumerate(CASES.items()):
    torch.manual_seed(100 + i)
    gen = torch.Generator().manual_seed(200 + i)
    model, x, y, lossf, make_opt = step_models.build(spec, gen)
    if spec["kind"] == "decoder":  # positions start at zero in PyTorch; give them values so their path is tested
        with torch.no_grad():
            model.pos.normal_(0, 0.1, generator=gen)
    state = {k: v.detach().clone() for k, v in model.ballast_state().items()}
    opt = make_opt(list(model.parameters()), False)
    opt.zero_grad()
    loss = lossf(model(x), y)
    loss.backward()
    names = {v.data_ptr(): k for k, v in model.ballast_state().items()}
    grads = {names[p.data_ptr()]: p.grad.detach().clone() for p in model.parameters()}
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
    clipped = {names[p.data_ptr()]: p.grad.detach().clone() for p in model.parameters()}
    opt.step()
    updated = {k: v.detach().clone() for k, v in model.ballast_state().items()}
    tensors = {"x": x.contiguous(), "y": y.contiguous(), "loss": loss.detach().reshape(1), "norm": norm.detach().reshape(1)}
    for k in state:
        tensors["weight." + k] = state[k].contiguous()
        tensors["grad." + k] = grads[k].contiguous()
        tensors["clipped." + k] = clipped[k].contiguous()
        tensors["updated." + k] = updated[k].contiguous()
    meta = {"spec": json.dumps(spec), "max_norm": str(MAX_NORM), "torch": torch.__version__,
            "made_by": "benchmarks/src/test/python/make_step_replay.py"}
    path = os.path.join(OUT, name + ".safetensors")
    save_file(tensors, path, metadata=meta)
    print(f"{name}: loss {loss.item():.6f}, grad norm {norm.item():.6f}, {sum(v.numel() for v in state.values())} params,"
          f" {os.path.getsize(path)} bytes")
