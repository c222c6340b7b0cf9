/* SPDX-License-Identifier: MIT */
/* Counts heap allocations made by this process (for the core benchmark:
 * "no per-request heap allocation"). Linking this target into an executable
 * interposes malloc and friends; each call is counted, then forwarded to glibc. */
#ifndef SMAF_MALLOC_COUNTER_H
#define SMAF_MALLOC_COUNTER_H
#include <stdint.h>
uint64_t smaf_malloc_count(void);
#endif
