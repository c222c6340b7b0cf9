/* The kernel side of the FUSE/CUSE wire protocol, for the test that plays
 * the kernel against a real libfuse session. */
#ifndef SMAF_CFUSE_KERNEL_H
#define SMAF_CFUSE_KERNEL_H
#include <linux/fuse.h>
#endif
