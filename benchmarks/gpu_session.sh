#!/usr/bin/env bash
# Issue 15 item 6 on a lent GPU, as one command (the device tool runs it in the repository root):
#   bash benchmarks/gpu_session.sh        # writes its logs under $OUT (default /tmp/gpu_session)
# 1. the GPU tests: the Triton SSA kernels (tests/test_ssa_triton.py: bf16 and the closed forms) and
#    flow training on CUDA (tests/test_flow_device.py),
# 2. benchmarks/ssa.py: SSA (Triton) against scaled_dot_product_attention restricted to flash, bf16,
#    8k-128k tokens, forward and forward+backward,
# 3. benchmarks/flow_gpu.py run: the gpu config's SSA flow transformer against full attention
#    (seconds per step at R = 128 and R = 256 token counts) and a short bf16 training run of each.
# Inputs made on the CPU beforehand (they travel in .gpu/, ignored by git):
#   .gpu/latents_r128.npz  the corpus's latent cache (n4d4d.generator.latents.encode_corpus)
#   .gpu/r256.npz          python benchmarks/flow_gpu.py prepare --out .gpu
# The machine has torch and triton but not this repository's other dependencies: only modules that
# need numpy, torch, triton and safetensors are run, with the package-dir mapping of pyproject.toml
# (n4d4d.kernels = kernels/) made by a link.
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
OUT=${OUT:-/tmp/gpu_session}
mkdir -p "$OUT"
[ -e n4d4d/kernels ] || ln -s ../kernels n4d4d/kernels
nvidia-smi -L
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
T0=$SECONDS
timeout "${PYTEST_S:-150}" python3 -m pytest -q -p no:cacheprovider tests/test_ssa_triton.py tests/test_flow_device.py > "$OUT/pytest_ssa.log" 2>&1
echo "pytest rc $? in $((SECONDS - T0)) s"; tail -4 "$OUT/pytest_ssa.log"
T0=$SECONDS
timeout "${SSA_S:-200}" python3 benchmarks/ssa.py --device cuda 2>&1 | tee "$OUT/ssa.log"
echo "ssa.py done in $((SECONDS - T0)) s"
T0=$SECONDS
timeout "${FLOW_S:-280}" python3 benchmarks/flow_gpu.py run --latents .gpu/latents_r128.npz --r256 .gpu/r256.npz \
    --out "$OUT" --budget "${FLOW_BUDGET:-170}" 2>&1 | tee "$OUT/flow_gpu.log"
echo "flow_gpu.py done in $((SECONDS - T0)) s"
