"""Which way of computing the exact divergence (and Jacobian) of a CNF's field is fastest?

Compares, for a CNF's ODENet at D = 3 on CPU, the full Jacobian computed by
  forward  ``ODENet.forward_and_jacobian``: the D tangents pushed through the layers by
           hand (what the solver uses for an ODENet: no autograd inside the step),
  loop     a Python loop of D ``torch.autograd.grad`` calls (what
           flowstudio.flows.divergence uses for other nets),
  batched  one ``torch.autograd.grad(..., is_grads_batched=True)`` call,
  vmap     ``torch.func.vjp`` with ``torch.func.vmap`` over the basis vectors,
and, as the reference for cost, ``hutch``: one VJP with a noise vector (Hutchinson's
estimate, not exact), both without a graph (sampling, evaluation) and with
``create_graph`` plus a backward pass (training). The methods are interleaved round by
round so that load on a shared machine hits them alike; the table reports the median over
rounds.

    python benchmarks/divergence_vjp.py [--points 512 4096] [--rounds 15] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.func import vjp, vmap

from flowstudio.flows.odenets import ODENet


def _basis(f: torch.Tensor) -> torch.Tensor:
    d = f.shape[-1]
    return torch.eye(d, dtype=f.dtype).reshape(d, *([1] * (f.dim() - 1)), d).expand(d, *f.shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[512, 4096])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    d = 3
    net = ODENet(d, 0, (64, 64, 64), "softplus")
    t = torch.tensor(0.3)

    def fn(z: torch.Tensor) -> torch.Tensor:
        return net(t, z)

    def loop(z: torch.Tensor, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        f = fn(z)
        rows = [torch.autograd.grad(f[..., i].sum(), z, retain_graph=True, create_graph=train)[0]
                for i in range(d)]
        return f, torch.stack(rows, -2)

    def batched(z: torch.Tensor, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        f = fn(z)
        rows = torch.autograd.grad(f, z, _basis(f), create_graph=train, is_grads_batched=True)[0]
        return f, rows.movedim(0, -2)

    def vmapped(z: torch.Tensor, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        f, pullback = vjp(fn, z)
        return f, vmap(pullback)(_basis(f))[0].movedim(0, -2)

    def forward(z: torch.Tensor, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        if not train:
            with torch.no_grad():
                return net.forward_and_jacobian(t, z)
        return net.forward_and_jacobian(t, z)

    def hutch(z: torch.Tensor, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        f = fn(z)
        e = torch.randn_like(z)
        e_jac = torch.autograd.grad(f, z, e, create_graph=train)[0]
        # e^T J e on the diagonal of a (.., D, D) stand-in, so that "div" is the estimate
        return f, torch.diag_embed(e_jac * e)

    methods = {"forward": forward, "loop": loop, "batched": batched, "vmap": vmapped, "hutch": hutch}
    exact = ("forward", "loop", "batched", "vmap")
    print(f"D={d}, ODENet (64, 64, 64) softplus, threads={args.threads}, "
          f"median of {args.rounds} rounds, ms per call")
    print(f"{'points':>7} {'mode':>6} " + " ".join(f"{m:>9}" for m in methods))
    for n in args.points:
        z0 = torch.randn(n, d)
        for train in (False, True):
            def run(method, z0=z0, train=train) -> torch.Tensor:
                z = z0.clone().requires_grad_(True)
                f, jac = method(z, train)
                div = jac.diagonal(dim1=-2, dim2=-1).sum(-1)
                if train:
                    (div.sum() + f.sum() + jac.pow(2).sum()).backward()
                return div.detach()

            reference = run(batched)
            times: dict[str, list[float]] = {m: [] for m in methods}
            for name in exact:
                torch.testing.assert_close(run(methods[name]), reference, atol=1e-5, rtol=1e-5)
            for _ in range(args.rounds):
                for name, method in methods.items():
                    start = time.perf_counter()
                    run(method)
                    times[name].append(1e3 * (time.perf_counter() - start))
            mode = "train" if train else "eval"
            print(f"{n:>7} {mode:>6} " + " ".join(f"{statistics.median(times[m]):9.2f}" for m in methods))


if __name__ == "__main__":
    main()
