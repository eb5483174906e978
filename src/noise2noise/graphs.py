"""Training steps replayed as CUDA graphs, and optimiser state that travels between devices.

A step of ZS-N2N (a three-layer network on 32×32 crops) or of the ``cpu`` preset's small
U-Net is a few hundred tiny kernels: on a GPU the host's time to launch them, not the
GPU's time to run them, sets the pace (``bench/results/gpu_check_h100_eager.md``: ZS-N2N
``fast`` 3.3-3.6 s on an H100 for work of well under a second, the same with cuDNN's
autotuner; with the graphs below, 0.46 s on an H200 against 2.91 s without them on the
same machine, ``bench/results/gpu_check.md``).
A CUDA graph records one whole step (forward, backward and Adam's update) and replays it
with a single launch (PyTorch's "whole-network capture"). :class:`TrainStep` does that on
CUDA and runs the same step eagerly everywhere else, so the training loops have one form.

What capture needs, and how it is kept invisible to the result:

- Adam must be *capturable*, with its learning rate a device tensor that a schedule
  changes in place (:func:`make_adam`); the graph then reads the current rate at every
  replay.
- The first capture needs a few eager warm-up steps (lazy initialisation of cuBLAS,
  cuDNN and Adam's state). They would move the weights, so the weights and Adam's state
  are copied before and put back after (:class:`Snapshot`): the first replayed step is the
  run's first step, as in an eager run with the same seed.
- A run saved on a GPU resumes on the CPU and back: :func:`portable_state` writes the
  optimiser's and the schedule's state with plain-number learning rates and without the
  device-specific flags, and :func:`load_portable_state` loads it into an optimiser made
  for the current device.

Graphs are used on CUDA unless the environment sets ``N2N_CUDA_GRAPHS=0`` (a run-time
switch for comparing, never part of a configuration); a capture that fails falls back to
eager steps with a warning.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence

import torch

from .errors import warn_user

__all__ = [
    "graphs_enabled",
    "make_adam",
    "learning_rate",
    "set_learning_rate",
    "TrainStep",
    "Snapshot",
    "portable_state",
    "load_portable_state",
]

WARMUP_STEPS = 3  # eager steps on a side stream before the first capture (PyTorch's advice)
_DEVICE_FLAGS = ("capturable", "fused", "foreach", "differentiable")


def graphs_enabled(device: torch.device) -> bool:
    """Whether training steps on ``device`` are replayed as CUDA graphs."""
    return device.type == "cuda" and os.environ.get("N2N_CUDA_GRAPHS", "1") != "0"


def make_adam(params: Iterable[torch.nn.Parameter], lr: float, device: torch.device):
    """Adam for ``device``: capturable, with a device-tensor learning rate, where steps are
    graphed; the fused kernel on CUDA otherwise (one launch per step instead of one per
    operation and tensor); PyTorch's default elsewhere."""
    if graphs_enabled(device):
        rate = torch.tensor(float(lr), dtype=torch.float32, device=device)
        return torch.optim.Adam(params, lr=rate, capturable=True, foreach=True)
    return torch.optim.Adam(params, lr=lr, fused=True if device.type == "cuda" else None)


def learning_rate(optimizer: torch.optim.Optimizer) -> float:
    """The first parameter group's learning rate as a number (it may be a tensor)."""
    return float(optimizer.param_groups[0]["lr"])


def set_learning_rate(optimizer: torch.optim.Optimizer, rate: float) -> None:
    """Set every group's learning rate; a tensor rate is filled in place (a graph reads
    it), without a wait for the device."""
    for group in optimizer.param_groups:
        if torch.is_tensor(group["lr"]):
            group["lr"].fill_(rate)
        else:
            group["lr"] = rate


def _params(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


class Snapshot:
    """Copies of an optimiser's parameters and state, to put back in place.

    Put back in place (``copy_``), because a captured graph holds the tensors' addresses.
    State the optimiser creates after the snapshot is zeroed by :meth:`restore`, which is
    a fresh state for Adam (its step count and moments start at zero).
    """

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.params = _params(optimizer)
        self.optimizer = optimizer
        with torch.no_grad():
            self.values = [p.detach().clone() for p in self.params]
            self.state = {
                p: {k: v.clone() for k, v in s.items() if torch.is_tensor(v)}
                for p, s in optimizer.state.items()
            }

    @torch.no_grad()
    def restore(self) -> None:
        for p, v in zip(self.params, self.values, strict=True):
            p.copy_(v)
        for p, s in self.optimizer.state.items():
            before = self.state.get(p, {})
            for k, v in s.items():
                if not torch.is_tensor(v):
                    continue
                if k in before:
                    v.copy_(before[k])
                else:
                    v.zero_()


class TrainStep:
    """One training step: ``loss = loss_fn(*inputs)``, backward, ``optimizer.step()``.

    Calling it with the step's input tensors returns the loss (detached, 0-d, on the
    device; with a graph, the same tensor is overwritten by the next step, so add it up
    before calling again). With a capturable optimiser (what :func:`make_adam` makes where
    :func:`graphs_enabled`) the first call captures the step as a CUDA graph for the
    shapes it was given, and later calls with those shapes copy their inputs into the
    graph's and replay it; other shapes (a short last batch) run eagerly on the same
    weights and optimiser. Any other optimiser: every step runs eagerly.
    """

    def __init__(self, loss_fn: Callable[..., torch.Tensor], optimizer: torch.optim.Optimizer):
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.use_graph = all(g.get("capturable", False) for g in optimizer.param_groups)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static: list[torch.Tensor] = []
        self.static_loss: torch.Tensor | None = None

    def _eager(self, *inputs: torch.Tensor) -> torch.Tensor:
        loss = self.loss_fn(*inputs)
        # With a graph the gradients are the graph's tensors: zero them, never drop them.
        self.optimizer.zero_grad(set_to_none=self.graph is None)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def _fits(self, inputs: Sequence[torch.Tensor]) -> bool:
        if len(inputs) != len(self.static):
            return False
        pairs = zip(inputs, self.static, strict=True)
        return all(x.shape == s.shape and x.dtype == s.dtype for x, s in pairs)

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        if self.use_graph and self.graph is None:
            self._capture(inputs)
        if self.graph is None or not self._fits(inputs):
            return self._eager(*inputs)
        for s, x in zip(self.static, inputs, strict=True):
            s.copy_(x, non_blocking=True)
        self.graph.replay()
        return self.static_loss

    def _capture(self, inputs: Sequence[torch.Tensor]) -> None:
        snapshot = Snapshot(self.optimizer)
        static = [x.detach().clone() for x in inputs]
        try:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(WARMUP_STEPS):
                    self._eager(*static)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            self.optimizer.zero_grad(set_to_none=True)
            with torch.cuda.graph(graph):
                loss = self.loss_fn(*static)
                loss.backward()
                self.optimizer.step()
        except Exception as error:  # noqa: BLE001 - any failure: the eager steps still work
            self.use_graph = False
            self.optimizer.zero_grad(set_to_none=True)
            warn_user(
                f"CUDA graph capture failed ({type(error).__name__}: {error}); "
                "training continues without graphs",
                RuntimeWarning,
            )
        else:
            self.graph, self.static, self.static_loss = graph, static, loss.detach()
        finally:
            torch.cuda.synchronize()
            snapshot.restore()


def _plain(value):
    """Learning rates and the like as numbers: tensors (0-d) to float, in lists too."""
    if torch.is_tensor(value) and value.numel() == 1:
        return float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _neutral(group: dict) -> dict:
    """A parameter group's options as numbers, without the device flags."""
    return {k: _plain(v) for k, v in group.items() if k not in _DEVICE_FLAGS}


def portable_state(
    optimizer: torch.optim.Optimizer, scheduler: object | None = None
) -> tuple[dict, dict | None]:
    """``(optimizer.state_dict(), scheduler.state_dict())`` that load on any device: the
    learning rates (and the schedule's) as numbers, the device flags of the parameter
    groups (capturable, fused, foreach) left out."""
    state = optimizer.state_dict()
    state = {**state, "param_groups": [_neutral(g) for g in state["param_groups"]]}
    return state, None if scheduler is None else _neutral(scheduler.state_dict())


def load_portable_state(
    optimizer: torch.optim.Optimizer,
    state: dict,
    scheduler: object | None = None,
    scheduler_state: dict | None = None,
) -> None:
    """Load what :func:`portable_state` wrote (or a plain ``state_dict()``) into an
    optimiser (and schedule) made for this device: the saved values, this optimiser's own
    device flags and form of learning rate (a tensor stays the same tensor, filled)."""
    current = [{k: g[k] for k in (*_DEVICE_FLAGS, "lr") if k in g} for g in optimizer.param_groups]
    groups = []
    for saved, mine in zip(state["param_groups"], current, strict=True):
        groups.append({**_neutral(saved), **{k: v for k, v in mine.items() if k != "lr"}})
    optimizer.load_state_dict({**state, "param_groups": groups})
    for group, mine in zip(optimizer.param_groups, current, strict=True):
        rate = float(group["lr"])
        if torch.is_tensor(mine["lr"]):
            mine["lr"].fill_(rate)
            group["lr"] = mine["lr"]
        else:
            group["lr"] = rate
    if scheduler is not None and scheduler_state is not None:
        scheduler.load_state_dict(_neutral(scheduler_state))
