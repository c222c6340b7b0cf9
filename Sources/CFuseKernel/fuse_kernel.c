/* SPDX-License-Identifier: MIT */
/* Header-only target: <linux/fuse.h> for tests. */
