/* tests/fault/fault.h: an allocation hook that fails the k-th allocation, in the spirit of SQLite's
 * test_malloc.c. Test executables linked with tests/CMakeLists.txt's options route every
 * malloc/calloc/realloc/posix_memalign/aligned_alloc/strdup/strndup of grpo's own code through it
 * (the linker's --wrap), and fault_install() routes jansson's and SQLite's allocators through it
 * too. Libraries outside grpo (libc internals, OpenMP, OpenBLAS, PCRE2, utf8proc) are not counted. */
#ifndef GRPO_TEST_FAULT_H
#define GRPO_TEST_FAULT_H

/* Points jansson and SQLite at the counting allocator; call once, before either allocates. */
void fault_install(void);
/* Counts allocations from now on and fails the k-th one (1-based; 0 = count, never fail). */
void fault_arm(long k);
/* Stops failing (counting goes on). */
void fault_disarm(void);
/* Allocations counted since the last fault_arm. */
long fault_count(void);
/* 1 when the armed failure has happened. */
int fault_fired(void);

#endif
