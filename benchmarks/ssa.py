"""Spatial sparse attention against full attention: time and peak memory, forward and forward+backward.

    python benchmarks/ssa.py                  # GPU variant if CUDA is present, else the CPU variant
    python benchmarks/ssa.py --device cpu --sizes 2048 4096 8192 16384 --reps 3

Tokens are the voxels of a sphere shell (``n4d4d.kernels.synthetic.shell_coords``), one batch item,
16 query heads, 2 key/value heads, head dim 64, compression block 4, selection block 8, top-k 16,
window 8 (unshifted). SSA = compression pooling + top-k selection + the three branches + gates
(:func:`n4d4d.kernels.ssa.spatial_sparse_attention`); the token layout is built once per resolution
and not timed (its build time is printed). Full attention = ``scaled_dot_product_attention`` over all
N tokens (key/value heads repeated for the 16 query heads outside the timed region).

GPU (issue 5 target): bf16, Triton backend vs SDPA restricted to the flash backend, sizes 8k..128k,
CUDA-event medians, peak memory = ``torch.cuda.max_memory_allocated`` above the inputs. Direct3D-S2
reports speed-ups over FlashAttention-2 of 0.7/1.4/2.3/2.5/3.9 (forward) and 1.4/2.5/3.6/6.3/9.6
(backward) at 8k/16k/32k/64k/128k.

CPU: fp32, one thread, the torch *reference* SSA (chunked, activation-checkpointed in the backward) vs
SDPA (PyTorch's CPU flash kernel), wall-clock medians; each (method, size, mode) runs in a fresh process and
peak memory is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after the runs minus before them
(resident-set high-water mark above the inputs; a warm-up at N=512 first loads libraries and thread
pools so that their code pages are not counted), measured in a separate one-run process with
``MALLOC_MMAP_THRESHOLD_=65536`` so that freed tensors leave the resident set (glibc otherwise keeps
freed blocks of up to 32 MiB in its heap and the high-water mark overstates live memory).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

H, HKV, D, TOPK = 16, 2, 64, 16
PAPER_FWD = {8192: 0.7, 16384: 1.4, 32768: 2.3, 65536: 2.5, 131072: 3.9}
PAPER_BWD = {8192: 1.4, 16384: 2.5, 32768: 3.6, 65536: 6.3, 131072: 9.6}


def _inputs(n: int, device: str, dtype, grad: bool):
    import torch

    from n4d4d.kernels.layout import block_layout, window_layout
    from n4d4d.kernels.sparse_tensor import SparseTensor
    from n4d4d.kernels.synthetic import shell_coords

    co = shell_coords(n, seed=0)
    x = SparseTensor.from_batches([co], [torch.zeros(n, 1)]).to(device)
    t0 = time.perf_counter()
    lay, win = block_layout(x), window_layout(x)
    layout_s = time.perf_counter() - t0
    gen = torch.Generator().manual_seed(0)

    def rnd(*s):
        return torch.randn(*s, generator=gen).to(device, dtype).requires_grad_(grad)

    q, k, v = rnd(n, H, D), rnd(n, HKV, D), rnd(n, HKV, D)
    gates = torch.rand(n, H, 3, generator=gen).to(device, dtype).requires_grad_(grad)
    kf, vf = (t.detach().repeat_interleave(H // HKV, 1).transpose(0, 1)[None].contiguous().requires_grad_(grad)
              for t in (k, v))
    qf = q.detach().transpose(0, 1)[None].contiguous().requires_grad_(grad)
    return dict(lay=lay, win=win, q=q, k=k, v=v, gates=gates, qf=qf, kf=kf, vf=vf, layout_s=layout_s,
                stats=dict(n_cmp=lay.compression.num_blocks, n_sel=lay.selection.num_blocks,
                           n_win=win.partition.num_blocks))


def _step(method: str, inp: dict, backward: bool, backend: str):
    """One forward (and backward) of ``method`` in {"ssa", "full"}."""
    import torch

    from n4d4d.kernels.ssa import spatial_sparse_attention

    if method == "ssa":
        o = spatial_sparse_attention(inp["q"], inp["k"], inp["v"], inp["gates"], inp["lay"], inp["win"],
                                     TOPK, backend=backend)
    else:
        o = torch.nn.functional.scaled_dot_product_attention(inp["qf"], inp["kf"], inp["vf"])
    if backward:
        o.backward(torch.ones_like(o))


# -- CPU: one measurement per process ------------------------------------------------------------

def _child(method: str, n: int, backward: bool, reps: int) -> dict:
    import torch

    torch.set_num_threads(1)     # the machine is shared: one thread gives stable, comparable figures
    with torch.set_grad_enabled(backward):                          # load code pages, pools: not "peak"
        _step(method, _inputs(512, "cpu", torch.float32, backward), backward, "torch")
    inp = _inputs(n, "cpu", torch.float32, backward)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    with torch.set_grad_enabled(backward):
        for _ in range(reps):
            t0 = time.perf_counter()
            _step(method, inp, backward, "torch")
            times.append(time.perf_counter() - t0)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return dict(ms=1e3 * statistics.median(times), peak_mb=(after - before) / 1024, layout_s=inp["layout_s"],
                threads=torch.get_num_threads(), **inp["stats"])


def _run_child(method: str, n: int, backward: bool, reps: int, env: dict | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", method, str(n), str(int(backward)), str(reps)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _measure_cpu(method: str, n: int, backward: bool, reps: int) -> dict:
    """Median time with the normal allocator; peak memory from a second process in which glibc
    serves every allocation of 64 KiB or more with mmap and returns it on free, so that the
    resident-set high-water mark follows live tensors instead of freed-but-kept heap."""
    res = _run_child(method, n, backward, reps)
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    res["peak_mb"] = _run_child(method, n, backward, 1, env)["peak_mb"]
    return res


def run_cpu(sizes: list[int], reps: int) -> None:
    print(f"CPU variant: fp32, torch reference SSA vs SDPA, H={H}, H_kv={HKV}, D={D}, top-k={TOPK}, "
          f"median of {reps}; peak = ru_maxrss delta in a fresh process, allocations >= 64 KiB mmapped (MB)")
    print("N | n_cmp | n_sel | fwd SSA ms | fwd SDPA ms | fwd x | f+b SSA ms | f+b SDPA ms | f+b x | "
          "peak fwd SSA/SDPA MB | peak f+b SSA/SDPA MB | f+b mem x")
    for n in sizes:
        r = {(m, b): _measure_cpu(m, n, b, reps) for m in ("ssa", "full") for b in (False, True)}
        (sf, ff), (sb, fb) = ((r[("ssa", b)], r[("full", b)]) for b in (False, True))
        print(f"{n} | {sb['n_cmp']} | {sb['n_sel']} | {sf['ms']:.0f} | {ff['ms']:.0f} | {ff['ms'] / sf['ms']:.2f} | "
              f"{sb['ms']:.0f} | {fb['ms']:.0f} | {fb['ms'] / sb['ms']:.2f} | {sf['peak_mb']:.0f}/{ff['peak_mb']:.0f} | "
              f"{sb['peak_mb']:.0f}/{fb['peak_mb']:.0f} | {fb['peak_mb'] / max(sb['peak_mb'], 1e-9):.2f}", flush=True)
    print(f"(torch threads: {sb['threads']}; layout build at N={sizes[-1]}: {sb['layout_s'] * 1e3:.0f} ms, "
          f"not timed; 'x' = SDPA / SSA, > 1 means SSA is faster or smaller)")


# -- GPU ------------------------------------------------------------------------------------------

def _cuda_time(fn, reps: int) -> float:
    import torch

    for _ in range(2):
        fn()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


def run_gpu(sizes: list[int], reps: int) -> None:
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel

    print(f"GPU variant ({torch.cuda.get_device_name()}): bf16, Triton SSA vs SDPA flash, H={H}, "
          f"H_kv={HKV}, D={D}, top-k={TOPK}, median of {reps} (CUDA events); peak = max_memory_allocated "
          f"above the inputs (MB)")
    print("N | fwd SSA ms | fwd flash ms | fwd x (paper) | f+b SSA ms | f+b flash ms | f+b x | "
          "bwd x (paper) | peak f+b SSA MB | peak f+b flash MB | layout ms")
    for n in sizes:
        inp = _inputs(n, "cuda", torch.bfloat16, True)
        res = {}
        for method in ("ssa", "full"):
            for backward in (False, True):
                torch.cuda.synchronize()
                base = torch.cuda.memory_allocated()
                torch.cuda.reset_peak_memory_stats()
                with sdpa_kernel([SDPBackend.FLASH_ATTENTION]), torch.set_grad_enabled(backward):
                    ms = _cuda_time(lambda: _step(method, inp, backward, "triton"), reps)
                res[(method, backward)] = (ms, (torch.cuda.max_memory_allocated() - base) / 2**20)
                for t in ("q", "k", "v", "gates", "qf", "kf", "vf"):
                    inp[t].grad = None
        fs, ff = res[("ssa", False)][0], res[("full", False)][0]
        bs, bf = res[("ssa", True)][0], res[("full", True)][0]
        bwd_x = (bf - ff) / max(bs - fs, 1e-9)
        print(f"{n} | {fs:.2f} | {ff:.2f} | {ff / fs:.2f} ({PAPER_FWD.get(n, float('nan'))}) | {bs:.2f} | "
              f"{bf:.2f} | {bf / bs:.2f} | {bwd_x:.2f} ({PAPER_BWD.get(n, float('nan'))}) | "
              f"{res[('ssa', True)][1]:.0f} | {res[('full', True)][1]:.0f} | {inp['layout_s'] * 1e3:.0f}", flush=True)
        del inp
        torch.cuda.empty_cache()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        method, n, backward, reps = sys.argv[2], int(sys.argv[3]), bool(int(sys.argv[4])), int(sys.argv[5])
        print(json.dumps(_child(method, n, backward, reps)))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--sizes", type=int, nargs="*", default=None)
    ap.add_argument("--reps", type=int, default=None)
    args = ap.parse_args()
    import torch

    cuda = torch.cuda.is_available() if args.device == "auto" else args.device == "cuda"
    if cuda:
        run_gpu(args.sizes or [8192, 16384, 32768, 65536, 131072], args.reps or 10)
    else:
        run_cpu(args.sizes or [2048, 4096, 8192, 16384], args.reps or 3)


if __name__ == "__main__":
    main()
