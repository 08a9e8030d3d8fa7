# rollout/: KV cache, sampler chain, grouped generation (and, later, the SQLite rollout store).
add_library(grpo_rollout STATIC rollout/sampler.c rollout/generate.c)
target_include_directories(grpo_rollout PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(grpo_rollout PUBLIC grpo_policy grpo_common OpenMP::OpenMP_C m)
if(GRPO_CUDA OR GRPO_CUDA_EMULATE)
  target_sources(grpo_rollout PRIVATE rollout/generate_cuda.c) # gen_run on the device
endif()
list(APPEND GRPO_CLI_SOURCES grpo/cmd_generate.c)
list(APPEND GRPO_CLI_LIBS grpo_rollout)

add_executable(test_rollout tests/rollout/test_rollout.c tests/rollout/test_sampler.c tests/test_util.c)
target_link_libraries(test_rollout PRIVATE grpo_rollout PkgConfig::CUNIT)
target_compile_definitions(test_rollout PRIVATE GRPO_SOURCE_DIR="${CMAKE_SOURCE_DIR}" GRPO_BIN="$<TARGET_FILE:grpo>")
add_dependencies(test_rollout grpo)
add_test(NAME rollout COMMAND test_rollout)

add_executable(bench_generate bench/bench_generate.c)
target_link_libraries(bench_generate PRIVATE grpo_rollout)
add_executable(bench_sampler bench/bench_sampler.c)
target_link_libraries(bench_sampler PRIVATE grpo_rollout)

# deep and oddly shaped models through every arena (forward, backward, SFT, GRPO step, generate)
add_executable(test_shapes tests/policy/test_shapes.c)
target_link_libraries(test_shapes PRIVATE grpo_rollout grpo_learner PkgConfig::CUNIT)
add_test(NAME shapes COMMAND test_shapes)
