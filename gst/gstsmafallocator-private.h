/* SPDX-License-Identifier: MIT */
/*
 * What the plugin's element (gstsmafpool.c) uses of GstSmafAllocator beyond
 * the public header: its type, the kind of its "error", and where to post
 * a refused buffer as an element error.
 */
#ifndef GST_SMAF_ALLOCATOR_PRIVATE_H
#define GST_SMAF_ALLOCATOR_PRIVATE_H

#include "gstsmafallocator.h"

G_BEGIN_DECLS

#define GST_TYPE_SMAF_ALLOCATOR (gst_smaf_allocator_get_type())
G_DECLARE_FINAL_TYPE(GstSmafAllocator, gst_smaf_allocator, GST, SMAF_ALLOCATOR, GstDmaBufAllocator)

/* The GST_RESOURCE_ERROR code that fits "error" (NOT_FOUND: a device path,
 * OPEN_READ_WRITE: smafd, SETTINGS: the allocator name, FAILED: no fit). */
GstResourceError gst_smaf_allocator_error_code(GstSmafAllocator *self);

/* A buffer smafd refuses while streaming (out of buffers, memory, quota)
 * becomes an error message of element (held weakly), besides the NULL that
 * makes the pool's acquire a flow error. */
void gst_smaf_allocator_set_element(GstSmafAllocator *self, GstElement *element);

/* Buffers this allocator has made so far (each one CREATE to smafd). */
guint gst_smaf_allocator_created(GstSmafAllocator *self);

G_END_DECLS

#endif
