/* SPDX-License-Identifier: MIT */
/*
 * smafpool: a passthrough element that answers the ALLOCATION query from
 * upstream with a video buffer pool backed by GstSmafAllocator, so the
 * element before it (v4l2src io-mode=dmabuf-import, videotestsrc, ...)
 * fills dma-bufs that smafd chose for the devices named in "devices", and
 * the element after it (kmssink, v4l2sink io-mode=dmabuf-import) imports
 * them. Buffers go through untouched; the pool re-uses them, so smafd sees
 * one CREATE per pool buffer, not per frame. docs/gstreamer.md has the
 * pipelines. Also the plugin's entry point.
 */
#include <gst/base/gstbasetransform.h>
#include <gst/video/video.h>

#include "gstsmafallocator-private.h"

#define PACKAGE "gstreamer1.0-smaf"
#ifndef SMAF_VERSION
#error "build with -DSMAF_VERSION=\"...\" (the Makefile passes VERSION)"
#endif

GST_DEBUG_CATEGORY_STATIC(smafpool_debug);
#define GST_CAT_DEFAULT smafpool_debug

#define GST_TYPE_SMAF_POOL (gst_smaf_pool_get_type())
G_DECLARE_FINAL_TYPE(GstSmafPool, gst_smaf_pool, GST, SMAF_POOL, GstBaseTransform)

struct _GstSmafPool {
	GstBaseTransform parent;
	gchar *devices;
	gchar *allocator_name;
	gboolean secure;
	guint min_buffers, max_buffers;
	GstAllocator *allocator; /* READY to PAUSED .. PAUSED to READY */
	guint64 frames_smaf, frames_other;
};

G_DEFINE_TYPE(GstSmafPool, gst_smaf_pool, GST_TYPE_BASE_TRANSFORM)

enum { PROP_0, PROP_DEVICES, PROP_ALLOCATOR, PROP_SECURE, PROP_MIN_BUFFERS, PROP_MAX_BUFFERS };
#define DEFAULT_MIN_BUFFERS 2
#define DEFAULT_MAX_BUFFERS 0

static GstStaticPadTemplate sink_template =
	GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-raw"));
static GstStaticPadTemplate src_template =
	GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-raw"));

/* READY to PAUSED: the devices are opened and smafd asked whether it can
 * serve them; any problem fails the state change with the allocator's
 * explanation. */
static gboolean gst_smaf_pool_start(GstBaseTransform *trans)
{
	GstSmafPool *self = GST_SMAF_POOL(trans);
	GstSmafAllocator *alloc = g_object_new(GST_TYPE_SMAF_ALLOCATOR, "devices", self->devices, "allocator",
					       self->allocator_name, "secure", self->secure, NULL);
	gchar *error = gst_smaf_allocator_get_error(GST_ALLOCATOR(alloc));
	if (error) {
		/* The message text is the allocator's: device, constraint, smafd's answer. */
		gst_element_message_full(GST_ELEMENT(self), GST_MESSAGE_ERROR, GST_RESOURCE_ERROR,
					 gst_smaf_allocator_error_code(alloc), error, NULL, __FILE__, GST_FUNCTION, __LINE__);
		gst_object_unref(alloc);
		return FALSE;
	}
	gst_smaf_allocator_set_element(alloc, GST_ELEMENT(self));
	self->allocator = GST_ALLOCATOR(alloc);
	self->frames_smaf = self->frames_other = 0;
	return TRUE;
}

static gboolean gst_smaf_pool_stop(GstBaseTransform *trans)
{
	GstSmafPool *self = GST_SMAF_POOL(trans);
	if (self->allocator) {
		GST_INFO_OBJECT(self, "%" G_GUINT64_FORMAT " frames in SMAF buffers, %" G_GUINT64_FORMAT
			       " in other memory; %u buffers created", self->frames_smaf, self->frames_other,
			       gst_smaf_allocator_created(GST_SMAF_ALLOCATOR(self->allocator)));
		gst_object_unref(self->allocator);
		self->allocator = NULL;
	}
	return TRUE;
}

static gboolean gst_smaf_pool_propose_allocation(GstBaseTransform *trans, GstQuery *decide_query, GstQuery *query)
{
	GstSmafPool *self = GST_SMAF_POOL(trans);
	(void)decide_query;
	GstCaps *caps = NULL;
	gboolean need_pool = FALSE;
	gst_query_parse_allocation(query, &caps, &need_pool);
	GstVideoInfo info;
	if (!caps || !gst_video_info_from_caps(&info, caps) || !self->allocator) {
		GST_WARNING_OBJECT(self, "no pool for caps %" GST_PTR_FORMAT, caps);
		return FALSE;
	}
	GstBufferPool *pool = gst_video_buffer_pool_new();
	GstStructure *config = gst_buffer_pool_get_config(pool);
	GstAllocationParams params;
	gst_allocation_params_init(&params);
	gst_buffer_pool_config_set_params(config, caps, (guint)info.size, self->min_buffers, self->max_buffers);
	gst_buffer_pool_config_set_allocator(config, self->allocator, &params);
	gst_buffer_pool_config_add_option(config, GST_BUFFER_POOL_OPTION_VIDEO_META);
	if (!gst_buffer_pool_set_config(pool, config)) {
		GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("the video buffer pool refused its configuration"), (NULL));
		gst_object_unref(pool);
		return FALSE;
	}
	/* Only this allocator and its pool: an upstream element that took
	 * another would fill memory no device here was chosen for. */
	while (gst_query_get_n_allocation_pools(query) > 0)
		gst_query_remove_nth_allocation_pool(query, 0);
	while (gst_query_get_n_allocation_params(query) > 0)
		gst_query_remove_nth_allocation_param(query, 0);
	gst_query_add_allocation_pool(query, pool, (guint)info.size, self->min_buffers, self->max_buffers);
	gst_query_add_allocation_param(query, self->allocator, &params);
	gst_query_add_allocation_meta(query, GST_VIDEO_META_API_TYPE, NULL);
	GST_DEBUG_OBJECT(self, "offered a pool of %u-byte SMAF buffers (%u..%u)", (guint)info.size, self->min_buffers,
			 self->max_buffers);
	gst_object_unref(pool);
	return TRUE;
}

/* Passthrough: only counts which frames travel in this allocator's memory. */
static GstFlowReturn gst_smaf_pool_transform_ip(GstBaseTransform *trans, GstBuffer *buf)
{
	GstSmafPool *self = GST_SMAF_POOL(trans);
	GstMemory *mem = gst_buffer_n_memory(buf) > 0 ? gst_buffer_peek_memory(buf, 0) : NULL;
	if (mem && mem->allocator == self->allocator && gst_is_dmabuf_memory(mem))
		self->frames_smaf++;
	else
		self->frames_other++;
	return GST_FLOW_OK;
}

static void gst_smaf_pool_set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
	GstSmafPool *self = GST_SMAF_POOL(object);
	switch (id) {
	case PROP_DEVICES:
		g_free(self->devices);
		self->devices = g_value_dup_string(value);
		break;
	case PROP_ALLOCATOR:
		g_free(self->allocator_name);
		self->allocator_name = g_value_dup_string(value);
		break;
	case PROP_SECURE:
		self->secure = g_value_get_boolean(value);
		break;
	case PROP_MIN_BUFFERS:
		self->min_buffers = g_value_get_uint(value);
		break;
	case PROP_MAX_BUFFERS:
		self->max_buffers = g_value_get_uint(value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
	}
}

static void gst_smaf_pool_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
	GstSmafPool *self = GST_SMAF_POOL(object);
	switch (id) {
	case PROP_DEVICES:
		g_value_set_string(value, self->devices);
		break;
	case PROP_ALLOCATOR:
		g_value_set_string(value, self->allocator_name);
		break;
	case PROP_SECURE:
		g_value_set_boolean(value, self->secure);
		break;
	case PROP_MIN_BUFFERS:
		g_value_set_uint(value, self->min_buffers);
		break;
	case PROP_MAX_BUFFERS:
		g_value_set_uint(value, self->max_buffers);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
	}
}

static void gst_smaf_pool_finalize(GObject *object)
{
	GstSmafPool *self = GST_SMAF_POOL(object);
	g_free(self->devices);
	g_free(self->allocator_name);
	if (self->allocator)
		gst_object_unref(self->allocator);
	G_OBJECT_CLASS(gst_smaf_pool_parent_class)->finalize(object);
}

static void gst_smaf_pool_class_init(GstSmafPoolClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
	GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);
	object_class->set_property = gst_smaf_pool_set_property;
	object_class->get_property = gst_smaf_pool_get_property;
	object_class->finalize = gst_smaf_pool_finalize;
	const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
	g_object_class_install_property(object_class, PROP_DEVICES,
		g_param_spec_string("devices", "Devices",
				    "Comma-separated device nodes that will use the buffers (opened on READY to PAUSED; "
				    "smafd picks an allocator that meets them all)", NULL, flags));
	g_object_class_install_property(object_class, PROP_ALLOCATOR,
		g_param_spec_string("allocator", "Allocator", "A smafd allocator by name (not together with devices)",
				    NULL, flags));
	g_object_class_install_property(object_class, PROP_SECURE,
		g_param_spec_boolean("secure", "Secure", "Set the SMAF secure flag on each buffer", FALSE, flags));
	g_object_class_install_property(object_class, PROP_MIN_BUFFERS,
		g_param_spec_uint("min-buffers", "Min buffers", "Buffers the pool makes when it starts", 0, 64,
				  DEFAULT_MIN_BUFFERS, flags));
	g_object_class_install_property(object_class, PROP_MAX_BUFFERS,
		g_param_spec_uint("max-buffers", "Max buffers", "Most buffers the pool makes (0: no limit)", 0, 64,
				  DEFAULT_MAX_BUFFERS, flags));
	gst_element_class_set_static_metadata(element_class, "SMAF buffer pool", "Filter/Video",
		"Offers upstream a pool of dma-bufs that smafd chose for the given devices; passes frames through",
		"smaf-cuse developers <smaf-cuse@example.org>");
	gst_element_class_add_static_pad_template(element_class, &sink_template);
	gst_element_class_add_static_pad_template(element_class, &src_template);
	trans_class->start = GST_DEBUG_FUNCPTR(gst_smaf_pool_start);
	trans_class->stop = GST_DEBUG_FUNCPTR(gst_smaf_pool_stop);
	trans_class->propose_allocation = GST_DEBUG_FUNCPTR(gst_smaf_pool_propose_allocation);
	trans_class->transform_ip = GST_DEBUG_FUNCPTR(gst_smaf_pool_transform_ip);
	trans_class->transform_ip_on_passthrough = TRUE;
	trans_class->passthrough_on_same_caps = TRUE;
}

static void gst_smaf_pool_init(GstSmafPool *self)
{
	self->min_buffers = DEFAULT_MIN_BUFFERS;
	self->max_buffers = DEFAULT_MAX_BUFFERS;
	gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), TRUE);
	gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}

static gboolean plugin_init(GstPlugin *plugin)
{
	GST_DEBUG_CATEGORY_INIT(smafpool_debug, "smafpool", 0, "SMAF buffer pool element");
	/* The allocator's type is registered with the plugin, so that
	 * gst_smaf_allocator_new() (gstsmafallocator.h) finds it by name. */
	g_type_ensure(GST_TYPE_SMAF_ALLOCATOR);
	return gst_element_register(plugin, "smafpool", GST_RANK_NONE, GST_TYPE_SMAF_POOL);
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, smaf, "dma-bufs from smafd, chosen for the devices that use them",
		  plugin_init, SMAF_VERSION, "MIT/X11", PACKAGE, "https://example.org/smaf-cuse")
