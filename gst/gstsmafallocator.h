/* SPDX-License-Identifier: MIT */
/*
 * gstsmafallocator.h - GstSmafAllocator, a GstDmaBufAllocator whose buffers
 * come from smafd (/dev/smaf, or $SMAF_DEVICE): dma-bufs chosen for the
 * devices that will use them (docs/constraints.md), so kmssink, v4l2
 * io-mode=dmabuf-import and any other dma-buf importer take them without a
 * copy. docs/gstreamer.md shows it in use.
 *
 * The type lives in the GStreamer plugin "smaf" (libgstsmaf.so, package
 * gstreamer1.0-smaf); this header needs no library of its own: the helper
 * below loads the plugin through the registry and builds the allocator by
 * its type name. Compile with `pkg-config --cflags --libs gstreamer-smaf-1.0`.
 *
 * Construct-only properties:
 *   devices    comma-separated device node paths (/dev/video0,/dev/dri/card0):
 *              every buffer is made by smaf_create_buffer_for() for them
 *   allocator  an allocator name (smafctl info lists them); not with devices
 *   secure     each buffer gets the SMAF secure flag
 * Read-only:
 *   error      NULL when the allocator can make buffers; otherwise why not:
 *              which device, which constraint, what smafd answered
 */
#ifndef GST_SMAF_ALLOCATOR_H
#define GST_SMAF_ALLOCATOR_H

#include <gst/gst.h>
#include <gst/allocators/allocators.h>

G_BEGIN_DECLS

#define GST_SMAF_ALLOCATOR_TYPE_NAME "GstSmafAllocator"
/* The memory type of its GstMemory is GST_ALLOCATOR_DMABUF: gst_is_dmabuf_memory() holds. */

/* A new GstSmafAllocator (full reference), or NULL if the plugin "smaf" is
 * not installed. devices and allocator may be NULL. Check the "error"
 * property before use. */
static inline GstAllocator *gst_smaf_allocator_new(const gchar *devices, const gchar *allocator, gboolean secure)
{
	GType type = g_type_from_name(GST_SMAF_ALLOCATOR_TYPE_NAME);
	if (type == 0) {
		GstPlugin *plugin = gst_plugin_load_by_name("smaf");
		if (plugin)
			gst_object_unref(plugin);
		type = g_type_from_name(GST_SMAF_ALLOCATOR_TYPE_NAME);
	}
	if (type == 0)
		return NULL;
	return GST_ALLOCATOR(g_object_new(type, "devices", devices, "allocator", allocator, "secure", secure, NULL));
}

/* A copy of the allocator's "error" property (g_free it): NULL if it is ready. */
static inline gchar *gst_smaf_allocator_get_error(GstAllocator *allocator)
{
	gchar *error = NULL;
	g_object_get(allocator, "error", &error, NULL);
	return error;
}

G_END_DECLS

#endif
