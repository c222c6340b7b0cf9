/* Header-only target: <linux/fuse.h> for tests. */
