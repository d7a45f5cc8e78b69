# PyTorch's side of `ballast bench step`, appended to step_models.py and run with python3 -c; the configuration comes
# as JSON on stdin: device, threads, the warm-up/median timing and the model specs. Eager mode, fused=True Adam/AdamW
# (and SGD where this PyTorch has a fused SGD), clip_grad_norm_(1.0) every step. Prints one JSON line.
import json, resource, sys, time

cfg = json.load(sys.stdin)
dev = cfg["device"]
cuda = dev == "cuda"
if not cuda:
    torch.set_num_threads(cfg["threads"])


def sync():
    if cuda:
        torch.cuda.synchronize()


def median(ts):
    ts = sorted(ts)
    k = len(ts)
    return ts[k // 2] if k % 2 else 0.5 * (ts[k // 2 - 1] + ts[k // 2])


def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure(step):
    t_end = time.perf_counter() + cfg["warmup_s"]
    n = 0
    while n < cfg["min_warmup"] or time.perf_counter() < t_end:
        step()
        n += 1
    sync()
    ts, total = [], 0.0
    f0 = faults()
    while len(ts) < cfg["min_reps"] or (total < cfg["target_s"] and len(ts) < cfg["max_reps"]):
        t0 = time.perf_counter()
        step()
        sync()
        ms = (time.perf_counter() - t0) * 1e3
        ts.append(ms)
        total += ms / 1e3
    return median(ts), (faults() - f0) / len(ts), len(ts)


res = {}
for m in cfg["models"]:
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    model, x, y, lossf, make_opt = build(m["spec"], gen)
    model, x, y = model.to(dev), x.to(dev), y.to(dev)
    params = list(model.parameters())
    try:
        opt, impl = make_opt(params, True), "fused"
    except (RuntimeError, TypeError, ValueError):
        opt, impl = make_opt(params, False), "default"
    ms, fl, reps = measure(make_step(model, x, y, lossf, opt, cfg["max_norm"]))
    res[m["name"]] = {"ms": ms, "faults_per_step": fl, "reps": reps, "optimizer": type(opt).__name__ + " " + impl}
    del model, x, y, opt, params
    if cuda:
        torch.cuda.empty_cache()
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "models": res}))
