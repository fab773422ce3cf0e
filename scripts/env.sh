# Sourced by the scripts: common settings.
# The CUDA toolkit's usual install location, when nvcc is not on PATH yet.
if ! command -v nvcc >/dev/null 2>&1 && [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
# Whether an NVIDIA GPU is usable here.
gpu_present() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q GPU; }
jobs=$(nproc)
