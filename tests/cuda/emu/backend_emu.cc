// tests/cuda/emu/backend_emu.cc: policy/cuda's kernels and backend compiled for the host emulation
// (cuda_emu.h); the test_cuda_emu target runs tests/cuda/test_cuda.c against it without a GPU.
#include "../../../policy/cuda/kernels.cu"
#include "../../../policy/cuda/attention.cu"
#include "../../../policy/cuda/attention_tc.cu"
#include "../../../policy/cuda/gemm_cuda.cu"
#include "../../../policy/cuda/model_cuda.cu"
#include "../../../policy/cuda/sampler_cuda.cu"
#include "../../../policy/cuda/decode_cuda.cu"
#include "../../../policy/cuda/nccl_cuda.cu"
