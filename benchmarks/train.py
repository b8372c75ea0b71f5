"""Training throughput of the CNNs on this machine, beside the machine's measured conv2d
throughput, and inference time for a 4-minute song (31 windows of 15 s).

    .venv/bin/python benchmarks/train.py [--threads 2] [--repeats 3]

FLOPs count the multiply-adds of convolutions and dense layers as 2 FLOPs each. A training
step costs the forward pass, the weight gradients (as much again) and the input gradients
(as much again, except for the first layer, whose input needs no gradient). The last line is
the fraction of the measured conv2d peak that the reference CNN's training step reaches on the
reference input (128 x 646, batch 32): `conv_utilisation: <fraction>`.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from timbral.models import build_model, count_parameters

WINDOWS = 31  # a 4-minute song in 15 s windows
REFERENCE_FRAMES = 646  # 15 s at the reference settings
DEMO_FRAMES = 216  # 5 s: the demo preset's segments
N_MELS = 128
N_CLASSES = 17


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def conv_peak(repeats: int) -> tuple[float, str]:
    """The best GFLOP/s of a few compute-bound 3x3 convolutions (forward, both memory layouts)."""
    best, label = 0.0, ""
    for batch, c_in, c_out, h, w in [(32, 64, 64, 43, 216), (32, 128, 128, 16, 80),
                                     (32, 128, 256, 8, 40)]:
        conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        flops = 2 * batch * c_out * c_in * 9 * h * w
        for fmt in (torch.contiguous_format, torch.channels_last):
            x = torch.randn(batch, c_in, h, w).contiguous(memory_format=fmt)
            m = conv.to(memory_format=fmt)
            with torch.inference_mode():
                t = best_time(lambda m=m, x=x: m(x), repeats)
            rate = flops / t / 1e9
            if rate > best:
                layout = "channels-last" if fmt is torch.channels_last else "NCHW"
                best, label = rate, f"{c_in}->{c_out} 3x3 on {batch}x{h}x{w} ({layout})"
    return best, label


def forward_flops(model: nn.Module, x: torch.Tensor) -> tuple[float, float]:
    """(forward FLOPs, training-step FLOPs) of conv and dense layers for input x."""
    layers: list[float] = []

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d | nn.Conv1d):
            k = module.weight[0].numel()  # c_in/groups * kernel
            layers.append(2.0 * output.numel() * k)
        elif isinstance(module, nn.Linear):
            layers.append(2.0 * output.numel() * module.in_features)

    hooks = [m.register_forward_hook(hook) for m in model.modules()
             if isinstance(m, nn.Conv2d | nn.Conv1d | nn.Linear)]
    with torch.no_grad():
        model.eval()(x)
    for h in hooks:
        h.remove()
    fwd = sum(layers)
    train = 3 * fwd - (layers[0] if layers else 0.0)
    return fwd, train


def train_throughput(model: nn.Module, frames: int, batch: int, steps: int, repeats: int) -> float:
    """Examples per second of full training steps (forward, BCE, backward, Adam)."""
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    x = -80 * torch.rand(batch, 1, N_MELS, frames)
    y = (torch.rand(batch, N_CLASSES) < 0.2).float()
    loss_fn = nn.BCEWithLogitsLoss()

    def run():
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            opt.step()

    return batch * steps / best_time(run, repeats)


def inference_seconds(model: nn.Module, repeats: int) -> float:
    x = -80 * torch.rand(WINDOWS, 1, N_MELS, REFERENCE_FRAMES)
    model.eval()
    with torch.inference_mode():
        return best_time(lambda: model(x), repeats)


def onnx_inference_seconds(model: nn.Module, repeats: int, threads: int) -> float | None:
    """The same on onnxruntime (opset 17), or None if it is not installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    import io
    import warnings

    buf = io.BytesIO()
    x = -80 * torch.rand(WINDOWS, 1, N_MELS, REFERENCE_FRAMES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (x,), buf, opset_version=17, dynamo=False,
                          input_names=["logmel"], dynamic_axes={"logmel": {0: "b", 3: "t"}})
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    session = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
    feed = {"logmel": x.numpy()}
    return best_time(lambda: session.run(None, feed), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timings kept: the best of N")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=2, help="training steps per timing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    peak, label = conv_peak(args.repeats)
    print(f"conv2d micro-benchmark: {peak:.1f} GFLOP/s (best: {label})")

    print(f"\ntraining, batch {args.batch} (forward + backward + Adam):")
    print(f"{'model':<15} {'input':>8} {'params':>9} {'GFLOP/ex':>9} {'examples/s':>11} "
          f"{'GFLOP/s':>8} {'of conv peak':>13}")
    utilisation = {}
    for frames in (REFERENCE_FRAMES, DEMO_FRAMES):
        for name in ("reference_cnn", "improved_cnn"):
            torch.manual_seed(0)
            model = build_model(name, N_CLASSES)
            _, train_flops = forward_flops(model, -80 * torch.rand(1, 1, N_MELS, frames))
            rate = train_throughput(model, frames, args.batch, args.steps, args.repeats)
            gflops = rate * train_flops / 1e9
            utilisation[(name, frames)] = gflops / peak
            print(f"{name:<15} {N_MELS:>4}x{frames:<3} {count_parameters(model):>9,} "
                  f"{train_flops / 1e9:>9.3f} {rate:>11.1f} {gflops:>8.1f} {gflops / peak:>13.2f}")

    print(f"\ninference, {WINDOWS} windows of {N_MELS}x{REFERENCE_FRAMES} in one batch "
          "(a 4-minute song):")
    print(f"{'model':<18} {'GFLOP':>7} {'torch s':>8} {'onnxruntime s':>14}")
    for name in ("reference_cnn", "improved_cnn", "descriptor_logreg"):
        torch.manual_seed(0)
        model = build_model(name, N_CLASSES)
        fwd, _ = forward_flops(model, -80 * torch.rand(WINDOWS, 1, N_MELS, REFERENCE_FRAMES))
        t_torch = inference_seconds(model, args.repeats)
        t_ort = onnx_inference_seconds(model, args.repeats, args.threads)
        ort_text = f"{t_ort:.3f}" if t_ort is not None else "n/a"
        print(f"{name:<18} {fwd / 1e9:>7.2f} {t_torch:>8.3f} {ort_text:>14}")

    print(f"conv_utilisation: {utilisation[('reference_cnn', REFERENCE_FRAMES)]:.3f}")


if __name__ == "__main__":
    main()
