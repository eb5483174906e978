"""Which way of training many ZS-N2N networks on one GPU is fastest (issue 17's target: a
folder of 50 images of 256×256 at `paper` in at most 60 s).

The GPU check of 0.9 (``bench/results/gpu_check.md``, an H200) found the library's way,
all networks' weights stacked and run as grouped convolutions, at 62 ms a step for 50
images, while one image alone took 1 ms a step with CUDA graphs: together was *slower*
per image than one after another. This script times the candidates side by side on the
same images (bsds432 256×256 centre crops, Gaussian sigma 25, seeded), each per step as
the time of ``--steps`` steps minus that of ``--steps // 3`` (so set-up, warm-up, graph
capture and the final denoising cancel out), projected to the preset's steps plus that
fixed cost:

- ``grouped N``: :func:`noise2noise.zeroshot.denoise_zeroshot_batch`, N networks at once;
- ``alone``: :func:`noise2noise.zeroshot.denoise_zeroshot` one image after another
  (CUDA-graph steps), timed on the first ``--alone`` images;
- ``interleaved K``: :func:`noise2noise.zeroshot.interleaved.denoise_zeroshot_interleaved`,
  K images at a time, each alone (its own CUDA graph) on its own stream, one host thread
  queueing a step of each in turn;
- ``streams K``: K images at a time, each alone in its own thread on its own CUDA stream
  (graph capture is not safe beside other threads' work: watch the notes for fallbacks);

and the training step alone (no graphs: loss, backward and Adam on N stacked networks;
``--micro-steps`` steps after 5 of warm-up) for three ways of computing the stacked
networks: grouped convolutions in float32 (the library's), the same under bf16 autocast
with channels-last tensors, and unfold + batched matrix products (first checked to give
the grouped convolution's output).

    python bench/zeroshot_folder_variants.py --data ../shared/data/bsds432 \
        --out bench/results/zeroshot_folder_variants --device cuda
    # CPU dry run: --device cpu --images 3 --size 64 --steps 6 --alone 2 --streams \
    #   --micro-steps 2
"""

from __future__ import annotations

import argparse
import ast
import threading
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from _common import command, table, timed, write_results
from torch.func import stack_module_state

from noise2noise import add_noise, read_image
from noise2noise.datasets import center_crop
from noise2noise.image_io import list_images
from noise2noise.models import SimpleCNN
from noise2noise.zeroshot import PRESETS, denoise_zeroshot, denoise_zeroshot_batch
from noise2noise.zeroshot.batched import _grouped_forward
from noise2noise.zeroshot.interleaved import denoise_zeroshot_interleaved
from noise2noise.zeroshot.losses import zeroshot_loss


def projected(name: str, run, images: int, args, scale: float = 1.0) -> dict:
    """``run(steps)`` timed at two step counts: per step, fixed cost, and the whole
    preset's time for ``images`` images (``scale``: how many such runs that takes)."""
    short = max(1, args.steps // 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, t_short = timed(lambda: run(short), args.device)
        _, t_long = timed(lambda: run(args.steps), args.device)
    per_step = (t_long - t_short) / (args.steps - short)
    fixed = max(0.0, t_short - short * per_step)
    full = PRESETS["paper"].steps
    row = {
        "variant": name,
        "images": images,
        "ms_per_step": round(1000 * per_step, 2),
        "fixed_s": round(fixed, 2),
        "projected_s": round(scale * (fixed + full * per_step), 1),
        "warnings": "; ".join(sorted({str(w.message)[:80] for w in caught})),
    }
    print(row, flush=True)
    return row


def in_streams(noisies: list[np.ndarray], k: int, steps: int, device: str) -> None:
    """Denoise ``noisies`` alone each, ``k`` at a time in threads with a stream each."""
    streams = [torch.cuda.Stream() for _ in range(k)]

    def work(i: int) -> None:
        with torch.cuda.stream(streams[i]):
            for noisy in noisies[i::k]:
                denoise_zeroshot(
                    noisy, preset="paper", iterations=steps, seed=0, channel_axis=-1,
                    device=device,
                )  # fmt: skip

    threads = [threading.Thread(target=work, args=(i,)) for i in range(k)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def unfold_forward(
    params: dict[str, torch.Tensor], x: torch.Tensor, n: int, layers: int, slope: float
) -> torch.Tensor:
    """The stacked networks of ``_grouped_forward`` as unfold + batched matrix products."""
    b, _, h, w = x.shape
    y = x
    for i in range(layers):
        name = f"hidden.{i}" if i < layers - 1 else "out"
        weight, bias = params[f"{name}.weight"], params[f"{name}.bias"]  # (N, O, I, k, k)
        k = weight.shape[-1]
        cols = F.unfold(y, k, padding=k // 2).view(b, n, -1, h * w)  # (B, N, I·k·k, HW)
        y = torch.matmul(weight.flatten(2)[None], cols) + bias[None, :, :, None]
        if i < layers - 1:
            y = F.leaky_relu(y, slope)
        y = y.reshape(b, -1, h, w)
    return y


def micro(noisies: list[np.ndarray], args) -> list[dict]:
    """Loss, backward and Adam of N stacked networks, per step, three ways."""
    config = PRESETS["paper"]
    device = torch.device(args.device)
    n = len(noisies)
    x = torch.cat(
        [torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255 for a in noisies], dim=1
    ).to(device)
    models = [SimpleCNN(3, width=config.width, layers=config.layers).to(device) for _ in range(n)]
    slope = models[0].negative_slope
    base, _ = stack_module_state(models)
    with torch.no_grad():
        a = _grouped_forward(base, x, n, config.layers, slope)
        b = unfold_forward(base, x, n, config.layers, slope)
    agree = float((a - b).abs().max())
    rows = []
    for name, forward, fast in (
        ("grouped conv, float32", _grouped_forward, False),
        ("grouped conv, bf16 channels-last", _grouped_forward, True),
        ("unfold + matmul, float32", unfold_forward, False),
    ):
        params = {k: v.detach().clone().requires_grad_() for k, v in base.items()}
        optimizer = torch.optim.Adam(params.values(), lr=config.lr)
        batch = x.contiguous(memory_format=torch.channels_last) if fast else x

        def net(z, forward=forward, params=params):
            return forward(params, z, n, config.layers, slope)

        def step(batch=batch, net=net, optimizer=optimizer, fast=fast):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
                loss = n * zeroshot_loss(net, batch, ratio=config.loss_ratio)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        for _ in range(5):
            step()
        _, seconds = timed(lambda s=step: [s() for _ in range(args.micro_steps)], args.device)
        per_step = seconds / args.micro_steps
        rows.append(
            {
                "variant": f"step only: {name}",
                "images": n,
                "ms_per_step": round(1000 * per_step, 2),
                "fixed_s": "",
                "projected_s": round(config.steps * per_step, 1),
                "warnings": f"off grouped by {agree:.1e}" if "unfold" in name else "",
            }
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="training images (bsds432); required unless --from-log")
    ap.add_argument("--out", default="bench/results/zeroshot_folder_variants")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--images", type=int, default=50)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=300, help="the longer of the two timings")
    ap.add_argument("--alone", type=int, default=4, help="images timed one after another")
    ap.add_argument("--groups", type=int, nargs="*", default=[50, 10])
    ap.add_argument("--streams", type=int, nargs="*", default=[4, 8])
    ap.add_argument("--micro-steps", type=int, default=20)
    ap.add_argument(
        "--from-log",
        metavar="FILE",
        help="only write the results from the rows an earlier run printed (a run that "
        "crashed before writing them: the thread-per-stream variant may)",
    )
    args = ap.parse_args()
    if args.from_log:
        lines = Path(args.from_log).read_text().splitlines()
        rows = [ast.literal_eval(line) for line in lines if line.startswith("{'variant'")]
        header = f"Rows printed by the run in `{args.from_log}` (its command is the first line)."
        write_results(args.out, rows, markdown(rows, header))
        return
    if not args.data:
        ap.error("--data is required")
    files = list_images(args.data)[: args.images]
    cleans = [center_crop(read_image(f), args.size) for f in files]
    noisies = [add_noise(c, "gaussian:25", seed=i, channel_axis=-1) for i, c in enumerate(cleans)]
    n = len(noisies)
    rows = micro(noisies, args)
    for k in args.streams:  # first: the candidate not measured on a GPU yet
        part = noisies[: 2 * k]
        run = lambda s, k=k, part=part: denoise_zeroshot_interleaved(  # noqa: E731
            part, preset="paper", iterations=s, seed=0, channel_axis=-1, streams=k,
            device=args.device,
        )  # fmt: skip
        rows.append(projected(f"interleaved {k}", run, n, args, scale=n / len(part)))
    for g in args.groups:
        run = lambda s, g=g: denoise_zeroshot_batch(  # noqa: E731
            noisies, preset="paper", iterations=s, seed=0, channel_axis=-1,
            device=args.device, group_size=min(g, n),
        )  # fmt: skip
        rows.append(projected(f"grouped {min(g, n)}", run, n, args))
    first = noisies[: args.alone]
    run = lambda s: [  # noqa: E731
        denoise_zeroshot(y, preset="paper", iterations=s, seed=0, channel_axis=-1,
                         device=args.device)
        for y in first
    ]  # fmt: skip
    rows.append(projected("alone, one after another", run, n, args, scale=n / len(first)))
    if args.device.startswith("cuda"):
        for k in args.streams:
            part = noisies[: 2 * k]
            run = lambda s, k=k, part=part: in_streams(part, k, s, args.device)  # noqa: E731
            rows.append(projected(f"streams {k}", run, n, args, scale=n / len(part)))
    info = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    header = (
        f"Device: {info}; torch {torch.__version__}. {n} images of {args.size}×{args.size}, "
        f"`paper` ({PRESETS['paper'].steps} steps); per step from {args.steps} minus "
        f"{max(1, args.steps // 3)} steps; projected = fixed + {PRESETS['paper'].steps} "
        "steps, for all the images (step-only rows: the steps alone)."
    )
    write_results(args.out, rows, markdown(rows, header))


def markdown(rows: list[dict], header: str) -> list[str]:
    md = ["# Many ZS-N2N networks on one device: which way is fastest", ""]
    md += ["```sh", command(), "```", "", header, ""]
    return md + table(
        ["variant", "images", "ms per step", "fixed s", "projected s", "notes"],
        rows,
        ["variant", "images", "ms_per_step", "fixed_s", "projected_s", "warnings"],
    )


if __name__ == "__main__":
    main()
