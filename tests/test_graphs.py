"""Training steps as CUDA graphs (noise2noise.graphs): what can be checked on the CPU here
(undoing the warm-up, optimiser state that moves between devices, the switch), and on a
GPU machine, through the ``device`` fixture, that graphed steps give the eager result."""

import numpy as np
import pytest
import torch

from noise2noise import add_noise, denoise_zeroshot
from noise2noise.graphs import (
    Snapshot,
    TrainStep,
    graphs_enabled,
    learning_rate,
    load_portable_state,
    make_adam,
    portable_state,
)


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.Conv2d(4, 2, 1))


def _batches(n):
    g = torch.Generator().manual_seed(1)
    return [torch.rand(3, 2, 8, 8, generator=g) for _ in range(n)]


def _steps(net, optimizer, batches, scheduler=None):
    for x in batches:
        loss = (net(x) - x.flip(-1)).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()


def _weights(net):
    return torch.cat([p.detach().flatten() for p in net.parameters()])


@pytest.mark.parametrize("resumed", [False, True])
def test_restoring_a_snapshot_undoes_warm_up_steps(resumed):
    # What TrainStep does around a capture: steps taken after the snapshot leave no trace,
    # both in a fresh optimiser (its state then starts at zero) and in one with state.
    batches = _batches(6)
    reference, net = _net(), _net()
    opt_ref = torch.optim.Adam(reference.parameters(), lr=1e-2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    if resumed:
        _steps(reference, opt_ref, batches[:2])
        _steps(net, opt, batches[:2])
    snapshot = Snapshot(opt)
    _steps(net, opt, _batches(3)[::-1])  # warm-up on other data
    assert not torch.equal(_weights(net), _weights(reference))
    snapshot.restore()
    _steps(reference, opt_ref, batches[2:])
    _steps(net, opt, batches[2:])
    assert torch.equal(_weights(net), _weights(reference))


def _tensor_lr_adam(net):
    # The GPU form (a tensor learning rate), made on the CPU: foreach off allows it here.
    return torch.optim.Adam(net.parameters(), lr=torch.tensor(1e-2), foreach=False)


@pytest.mark.parametrize("direction", ["tensor-to-float", "float-to-tensor"])
def test_optimiser_state_moves_between_the_two_forms(direction):
    # A run saved with one form of learning rate (GPU graphs: a tensor; elsewhere: a
    # number) resumes with the other and continues exactly as an unbroken run.
    batches = _batches(8)
    make_first, make_second = (
        (_tensor_lr_adam, lambda n: make_adam(n.parameters(), 1e-2, torch.device("cpu")))
        if direction == "tensor-to-float"
        else (lambda n: make_adam(n.parameters(), 1e-2, torch.device("cpu")), _tensor_lr_adam)
    )
    unbroken = _net()
    opt_u = make_first(unbroken)
    sched_u = torch.optim.lr_scheduler.CosineAnnealingLR(opt_u, T_max=8)
    _steps(unbroken, opt_u, batches, sched_u)

    first = _net()
    opt_1 = make_first(first)
    sched_1 = torch.optim.lr_scheduler.CosineAnnealingLR(opt_1, T_max=8)
    _steps(first, opt_1, batches[:3], sched_1)
    saved_opt, saved_sched = portable_state(opt_1, sched_1)
    flat = [v for g in saved_opt["param_groups"] for v in g.values()]
    flat += [v for v in saved_sched.values() if not isinstance(v, list)]
    flat += [x for v in saved_sched.values() if isinstance(v, list) for x in v]
    assert not any(torch.is_tensor(v) for v in flat)
    assert all("capturable" not in g and "foreach" not in g for g in saved_opt["param_groups"])

    second = _net()
    second.load_state_dict(first.state_dict())
    opt_2 = make_second(second)
    sched_2 = torch.optim.lr_scheduler.CosineAnnealingLR(opt_2, T_max=8)
    form = type(opt_2.param_groups[0]["lr"])
    load_portable_state(opt_2, saved_opt, sched_2, saved_sched)
    assert type(opt_2.param_groups[0]["lr"]) is form  # this device's form kept
    assert learning_rate(opt_2) == pytest.approx(learning_rate(opt_1))
    _steps(second, opt_2, batches[3:], sched_2)
    assert torch.allclose(_weights(second), _weights(unbroken), rtol=1e-6, atol=1e-7)


def test_graphs_only_on_cuda_and_can_be_switched_off(monkeypatch):
    assert not graphs_enabled(torch.device("cpu"))
    monkeypatch.delenv("N2N_CUDA_GRAPHS", raising=False)
    assert graphs_enabled(torch.device("cuda"))
    monkeypatch.setenv("N2N_CUDA_GRAPHS", "0")
    assert not graphs_enabled(torch.device("cuda"))


def test_train_step_is_the_plain_step_off_cuda():
    batches = _batches(4)
    a, b = _net(), _net()
    opt_a = make_adam(a.parameters(), 1e-2, torch.device("cpu"))
    opt_b = torch.optim.Adam(b.parameters(), lr=1e-2)
    step = TrainStep(lambda x: (a(x) - x.flip(-1)).pow(2).mean(), opt_a)
    losses = [float(step(x)) for x in batches]
    _steps(b, opt_b, batches)
    assert step.graph is None and len(set(losses)) == 4
    assert torch.equal(_weights(a), _weights(b))


@pytest.mark.parametrize("preset", ["fast", "paper"])
def test_graphed_zeroshot_matches_eager(astronaut_crop, device, preset, monkeypatch):
    # On a GPU the steps are replayed as a CUDA graph; with graphs switched off they run
    # one kernel at a time. Same kernels, same order: the results agree to rounding.
    noisy = add_noise(astronaut_crop, "gaussian:25", seed=0, channel_axis=-1)
    run = dict(preset=preset, iterations=40, seed=0, channel_axis=-1, device=device)
    graphed = denoise_zeroshot(noisy, **run).astype(np.float32)
    monkeypatch.setenv("N2N_CUDA_GRAPHS", "0")
    eager = denoise_zeroshot(noisy, **run).astype(np.float32)
    assert np.abs(graphed - eager).max() <= 2  # 8-bit levels
