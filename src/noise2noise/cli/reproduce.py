"""``n2n reproduce``: the report's experiments, cached and verifiable."""

from __future__ import annotations

import argparse

from ..errors import N2NError
from ..report import (
    BUDGETS,
    EXPERIMENTS,
    VERIFY_TOLERANCE,
    Reproduction,
    budget_for,
    reproduce,
    typed_command,
    verify,
)
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    Formatter,
    Several,
    add_data_root,
    add_device,
    add_threads,
    apply_threads,
    device_of,
    positive_int,
    wrap,
)

EXPERIMENT_NAMES = [*EXPERIMENTS, "all", "report", "verify"]


def _cmd_reproduce(args: argparse.Namespace) -> int:
    _take_misplaced_experiments(args)
    apply_threads(args)
    device = str(device_of(args))
    if "verify" in args.experiments:
        if len(args.experiments) > 1:
            raise N2NError("verify runs on its own: n2n reproduce verify --out DIR")
        budget = budget_for(args.budget, quick=args.quick)
        repro = Reproduction(args.out, budget, data_root=args.data_root, device=device)
        cells = verify(repro, args.sample)
        for c in cells:
            print(
                f"{c.experiment:11s} {c.image:10s} {c.noise:12s} {c.method:10s} "
                f"cached {c.cached_psnr:.2f}  now {c.recomputed_psnr:.2f}  "
                f"({c.difference:+.3f} dB){'' if c.ok else '  MISMATCH'}"
            )
        ok = sum(c.ok for c in cells)
        print(f"{ok} of {len(cells)} cells reproduced within {VERIFY_TOLERANCE} dB")
        return EXIT_OK if ok == len(cells) else EXIT_FAILED
    results = reproduce(
        args.experiments,
        args.out,
        device=device,
        preset=args.budget,
        quick=args.quick,
        data_root=args.data_root,
        noises=args.noise,
        methods=args.methods,
        command=typed_command(),
    )
    print(f"wrote {results}")
    return EXIT_OK


def _take_misplaced_experiments(args: argparse.Namespace) -> None:
    """Experiments named after --methods or --noise, which take several values
    (`n2n reproduce --methods bm3d table1`), are the experiments they are."""
    for option in ("methods", "noise"):
        values = getattr(args, option) or []
        args.experiments += [v for v in values if v in EXPERIMENT_NAMES]
        setattr(args, option, [v for v in values if v not in EXPERIMENT_NAMES] or None)
    unknown = [e for e in args.experiments if e not in EXPERIMENT_NAMES]
    if unknown or not args.experiments:
        said = f"unknown experiment '{unknown[0]}'" if unknown else "no experiment named"
        args.command_parser.error(f"{said} (choose from {', '.join(EXPERIMENT_NAMES)})")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "reproduce",
        formatter_class=Formatter,
        help="reproduce the report's Table 1, convergence figure, sensitivity study, figures",
        description=wrap(
            "Run the report's experiments on the test50 images (Kodak24 + 26 CBSD68, "
            "256×256 centre crops) with bsds432 as training set, and write per-image CSVs, "
            "tables side by side with the report's, plots and RESULTS.md to --out. Every "
            "cell (a training, an image × noise × method) is saved as it finishes and "
            "skipped on re-run, so the work can be done in pieces and survives "
            "interruption. EXPERIMENTS: train (the 24 networks of Table 1), table1, "
            "convergence, sensitivity, figures, all, report (only rewrite RESULTS.md), or "
            "verify (recompute a random sample of cached cells and compare). "
            "Several processes can share one --out (each cell goes to one of them): on "
            "2 cores, run the same command twice with --threads 1. "
            "--budget cpu finishes on 2 CPU cores (hours, see docs/results); "
            "--budget report uses the report's hyperparameters (days on a CPU). "
            "--quick runs the same structure on 2 small images with a few steps, in minutes. "
            "--noise and --methods compute a part of the cells, so that pieces can run "
            "on different machines: the networks and ZS-N2N on a GPU, BM3D where the bm3d "
            "package is (bench/gpu_report.sh runs the GPU's share in pieces)."
        ),
        epilog="examples:\n"
        "  n2n reproduce all --budget cpu --out docs/results/cpu\n"
        "  n2n reproduce table1 sensitivity --budget cpu --out docs/results/cpu --threads 1\n"
        "  n2n reproduce all --quick --out /tmp/quick\n"
        "  n2n reproduce all --budget report --device cuda --out docs/results/report\n"
        "  n2n reproduce train table1 figures --budget report --noise gaussian:25 \\\n"
        "      --methods cnn_noisy,unet_noisy --device cuda --out docs/results/report\n"
        "  n2n reproduce table1 figures --budget report --methods bm3d,ansc,pretrained \\\n"
        "      --out docs/results/report   # the GPU-free rows, on the CPU\n"
        "  n2n reproduce report --out docs/results/cpu    # rewrite RESULTS.md only\n"
        "  n2n reproduce verify --sample 5 --out docs/results/cpu  # recompute 5 cached cells",
    )
    p.add_argument(
        "experiments",
        nargs="*",  # checked by _take_misplaced_experiments (choices refuse none given)
        metavar="EXPERIMENT",
        help="train (Table 1's networks only), table1, convergence, sensitivity, figures, "
        "all, report, verify (recompute a sample of cached cells)",
    )
    p.add_argument(
        "--budget",
        "--preset",
        dest="budget",
        choices=list(BUDGETS),
        default="cpu",
        help="what to compute: cpu (fits 2 CPU cores) or report (the report's own "
        "hyperparameters); --preset is the same option (default: %(default)s)",
    )
    p.add_argument("--quick", action="store_true", help="a few small images, a few steps")
    p.add_argument(
        "--sample",
        type=positive_int,
        default=5,
        help="with verify: how many cached cells to recompute (default: %(default)s)",
    )
    p.add_argument(
        "--noise",
        action=Several,
        metavar="NOISE",
        help="only the cells and networks of these noises (e.g. gaussian:25; one or "
        "several; default: every noise of each experiment)",
    )
    p.add_argument(
        "--methods",
        action=Several,
        metavar="ROW",
        help="only these rows of Table 1 and the figures, one or several (zeroshot, bm3d, "
        "ansc, pretrained, cnn_clean, unet_clean, cnn_noisy, unet_noisy) and only their "
        "networks in train; the sensitivity study and the convergence curves are not "
        "restricted (default: every row)",
    )
    p.add_argument("--out", required=True, help="output folder (cached cells are reused)")
    add_threads(p)
    add_data_root(p)
    add_device(p)
    p.set_defaults(func=_cmd_reproduce)
