/* SPDX-License-Identifier: MIT */
/*
 * GstSmafAllocator: dma-buf memory from smafd (gstsmafallocator.h). Each
 * alloc is one CREATE (smaf_create_buffer_for with the devices' fds, or
 * smaf_create_buffer with an allocator name or none); the fd is wrapped by
 * GstFdAllocator's code, so the memory is GST_ALLOCATOR_DMABUF and the fd is
 * closed when the memory is freed. Everything that can be known before the
 * first buffer (the devices exist, smafd answers, the name is one of its
 * allocators, some allocator meets every device) is checked at
 * construction and put in "error", so a pipeline fails at its state change
 * rather than at its first frame.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "libsmaf.h"
#include "smaf.h"
#include "smaf_ext.h"
#include "gstsmafallocator-private.h"

GST_DEBUG_CATEGORY_STATIC(smaf_allocator_debug);
#define GST_CAT_DEFAULT smaf_allocator_debug

struct _GstSmafAllocator {
	GstDmaBufAllocator parent;
	gchar *devices;   /* the property, as given */
	gchar *name;      /* the "allocator" property */
	gboolean secure;
	gchar **paths;    /* devices, split */
	GArray *fds;      /* gint: O_PATH fds of paths, same order */
	gboolean opened;  /* smaf_open() succeeded (smaf_close() owed) */
	gchar *error;
	GstResourceError error_code;
	GWeakRef element;
	gint created;     /* atomic */
};

G_DEFINE_TYPE(GstSmafAllocator, gst_smaf_allocator, GST_TYPE_DMABUF_ALLOCATOR)

enum { PROP_0, PROP_DEVICES, PROP_ALLOCATOR, PROP_SECURE, PROP_ERROR };

/* The device libsmaf talks to (lib/libsmaf.c reads the same variable). */
static const gchar *smaf_node(void)
{
	const gchar *p = g_getenv("SMAF_DEVICE");
	return p && *p ? p : "/dev/smaf";
}

static void set_error(GstSmafAllocator *self, GstResourceError code, gchar *message)
{
	if (self->error) {
		g_free(message);
		return;
	}
	self->error = message;
	self->error_code = code;
	GST_WARNING_OBJECT(self, "%s", message);
}

/* What SMAF_NEEDS_* bits and the mask/alignment mean, for a message. */
static gchar *describe_needs(const struct smaf_ext_devices *d)
{
	GString *s = g_string_new(NULL);
	if (d->needs & SMAF_NEEDS_CONTIGUOUS)
		g_string_append(s, "physically contiguous memory, ");
	if (d->needs & SMAF_NEEDS_KERNEL_MAPPING)
		g_string_append(s, "correct kernel mappings, ");
	if (d->dma_mask_bits && d->dma_mask_bits < 64)
		g_string_append_printf(s, "memory below 2^%u, ", d->dma_mask_bits);
	if (d->align > 4096)
		g_string_append_printf(s, "%" G_GUINT64_FORMAT "-byte alignment, ", (guint64)d->align);
	if (d->needs & SMAF_NEEDS_DMABUF)
		g_string_append(s, "a dma-buf, ");
	if (s->len >= 2)
		g_string_truncate(s, s->len - 2);
	else
		g_string_append(s, "nothing special");
	return g_string_free(s, FALSE);
}

/* The names of the allocators set in mask (SMAF_IOC_EXT_DEVICES.allocators). */
static gchar *describe_allocators(guint64 mask)
{
	GString *s = g_string_new(NULL);
	for (int i = 0; i < 64; i++) {
		if (!(mask & (G_GUINT64_CONSTANT(1) << i)))
			continue;
		char *n = smaf_get_allocator_name(i);
		g_string_append_printf(s, "%s%s", s->len ? ", " : "", n ? n : "?");
		free(n);
	}
	if (!s->len)
		g_string_append(s, "none");
	return g_string_free(s, FALSE);
}

/* SMAF_IOC_EXT_DEVICES for fds: 0 or an errno. */
static int query_devices(int smaf, const gint *fds, guint n, struct smaf_ext_devices *d)
{
	memset(d, 0, sizeof(*d));
	d->n_devices = n;
	for (guint i = 0; i < n && i < SMAF_EXT_MAX_DEVICES; i++)
		d->device_fds[i] = fds[i];
	return ioctl(smaf, SMAF_IOC_EXT_DEVICES, d) == 0 ? 0 : errno;
}

/* What smafd knows of each device and of them all: an error naming the
 * device smafd refuses, or, when no allocator meets them together, what
 * each needs and which allocators meet it. */
static void check_devices(GstSmafAllocator *self)
{
	int smaf = open(smaf_node(), O_RDWR | O_CLOEXEC);
	if (smaf < 0) {
		set_error(self, GST_RESOURCE_ERROR_OPEN_READ_WRITE,
			  g_strdup_printf("cannot open %s: %s (is smafd running?)", smaf_node(), g_strerror(errno)));
		return;
	}
	const gint *fds = (const gint *)(gpointer)self->fds->data;
	guint n = self->fds->len;
	struct smaf_ext_devices d;
	GString *each = g_string_new(NULL);
	for (guint i = 0; i < n && !self->error; i++) {
		int e = query_devices(smaf, &fds[i], 1, &d);
		if (e) {
			set_error(self, e == ENODEV ? GST_RESOURCE_ERROR_NOT_FOUND : GST_RESOURCE_ERROR_FAILED,
				  g_strdup_printf("device %s: smafd answered %s%s", self->paths[i], g_strerror(e),
						  e == ENODEV ? ": it is not a character device" : ""));
			break;
		}
		gchar *needs = describe_needs(&d), *fits = describe_allocators(d.allocators);
		g_string_append_printf(each, "; %s needs %s (allocators that meet it: %s)", self->paths[i], needs, fits);
		g_free(needs);
		g_free(fits);
	}
	if (!self->error) {
		int e = query_devices(smaf, fds, n, &d);
		if (e) {
			set_error(self, GST_RESOURCE_ERROR_FAILED,
				  g_strdup_printf("devices %s: smafd answered %s", self->devices, g_strerror(e)));
		} else if (d.allocators == 0) {
			gchar *needs = describe_needs(&d);
			set_error(self, GST_RESOURCE_ERROR_FAILED,
				  g_strdup_printf("no allocator of smafd fits %s: %s %s, and smafd has no allocator that "
						  "gives all of it (it answers EINVAL to a buffer for them)%s",
						  self->devices, n > 1 ? "together they need" : "it needs", needs, each->str));
			g_free(needs);
		} else {
			gchar *fits = describe_allocators(d.allocators);
			GST_INFO_OBJECT(self, "buffers for %s come from the first of: %s", self->devices, fits);
			g_free(fits);
		}
	}
	g_string_free(each, TRUE);
	close(smaf);
}

static void check_name(GstSmafAllocator *self)
{
	int count = smaf_allocator_count();
	GString *known = g_string_new(NULL);
	gboolean found = FALSE;
	for (int i = 0; i < count && !found; i++) {
		char *n = smaf_get_allocator_name(i);
		if (n && !strcmp(n, self->name))
			found = TRUE;
		else if (n)
			g_string_append_printf(known, "%s%s", known->len ? ", " : "", n);
		free(n);
	}
	if (!found)
		set_error(self, GST_RESOURCE_ERROR_SETTINGS,
			  g_strdup_printf("allocator '%s' is not one of smafd's (%s)", self->name,
					  count < 0 ? "smafd did not list them" : known->str));
	g_string_free(known, TRUE);
}

static void gst_smaf_allocator_constructed(GObject *object)
{
	GstSmafAllocator *self = GST_SMAF_ALLOCATOR(object);
	G_OBJECT_CLASS(gst_smaf_allocator_parent_class)->constructed(object);
	if (self->devices && *self->devices && self->name && *self->name) {
		set_error(self, GST_RESOURCE_ERROR_SETTINGS,
			  g_strdup_printf("give devices (%s) or an allocator name (%s), not both: a named buffer ignores "
					  "the devices' constraints", self->devices, self->name));
		return;
	}
	self->paths = g_strsplit(self->devices ? self->devices : "", ",", -1);
	for (gchar **p = self->paths; *p; p++) {
		g_strstrip(*p);
		if (!**p)
			continue;
		/* O_PATH: smafd only identifies the device; nothing is opened for real. */
		int fd = open(*p, O_PATH | O_CLOEXEC);
		if (fd < 0) {
			set_error(self, GST_RESOURCE_ERROR_NOT_FOUND,
				  g_strdup_printf("device %s: %s", *p, g_strerror(errno)));
			return;
		}
		g_array_append_val(self->fds, fd);
	}
	/* Empty entries dropped, so paths[i] names fds[i]. */
	gchar **kept = g_new0(gchar *, self->fds->len + 1);
	guint k = 0;
	for (gchar **p = self->paths; *p; p++)
		if (**p)
			kept[k++] = g_strdup(*p);
	g_strfreev(self->paths);
	self->paths = kept;
	if (self->fds->len > SMAF_EXT_MAX_DEVICES) {
		set_error(self, GST_RESOURCE_ERROR_SETTINGS,
			  g_strdup_printf("%u devices: smafd takes at most %d", self->fds->len, SMAF_EXT_MAX_DEVICES));
		return;
	}
	if (smaf_open() != 0) {
		set_error(self, GST_RESOURCE_ERROR_OPEN_READ_WRITE,
			  g_strdup_printf("cannot open %s: %s (is smafd running?)", smaf_node(), g_strerror(errno)));
		return;
	}
	self->opened = TRUE;
	if (self->name && *self->name)
		check_name(self);
	else if (self->fds->len)
		check_devices(self);
}

static GstMemory *gst_smaf_allocator_alloc(GstAllocator *allocator, gsize size, GstAllocationParams *params)
{
	GstSmafAllocator *self = GST_SMAF_ALLOCATOR(allocator);
	gsize total = size + params->prefix + params->padding;
	int fd = -1, r, e = EINVAL;
	if (self->error || total > G_MAXUINT) {
		GST_ERROR_OBJECT(self, "no buffer: %s", self->error ? self->error : "too large");
		return NULL;
	}
	unsigned flags = SMAF_RDWR | SMAF_CLOEXEC;
	if (self->fds->len)
		r = smaf_create_buffer_for((unsigned)total, flags, (const int *)(gpointer)self->fds->data, self->fds->len, &fd);
	else
		r = smaf_create_buffer((unsigned)total, flags, self->name && *self->name ? self->name : NULL, &fd);
	if (r == 0 && self->secure && smaf_set_secure(fd, 1) != 0) {
		e = errno;
		close(fd);
		r = -1;
		errno = e;
	}
	if (r != 0) {
		e = errno;
		gchar *why = g_strdup_printf("smafd refused a %s%" G_GSIZE_FORMAT "-byte buffer%s%s: %s", self->secure ? "secure " : "",
					     total, self->devices && *self->devices ? " for " : "",
					     self->devices && *self->devices ? self->devices : "", g_strerror(e));
		GST_ERROR_OBJECT(self, "%s", why);
		GstElement *element = g_weak_ref_get(&self->element);
		if (element) {
			GST_ELEMENT_ERROR(element, RESOURCE, NO_SPACE_LEFT, ("%s", why),
					  ("after %d buffers of this pool", g_atomic_int_get(&self->created)));
			gst_object_unref(element);
		}
		g_free(why);
		return NULL;
	}
	g_atomic_int_inc(&self->created);
	GstMemory *mem = gst_fd_allocator_alloc(allocator, fd, total, GST_FD_MEMORY_FLAG_NONE);
	if (!mem) {
		close(fd);
		return NULL;
	}
	if (params->prefix || params->padding)
		gst_memory_resize(mem, params->prefix, size);
	GST_DEBUG_OBJECT(self, "buffer %d: fd %d, %" G_GSIZE_FORMAT " bytes", g_atomic_int_get(&self->created), fd, total);
	return mem;
}

static void gst_smaf_allocator_set_property(GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
	GstSmafAllocator *self = GST_SMAF_ALLOCATOR(object);
	switch (id) {
	case PROP_DEVICES:
		g_free(self->devices);
		self->devices = g_value_dup_string(value);
		break;
	case PROP_ALLOCATOR:
		g_free(self->name);
		self->name = g_value_dup_string(value);
		break;
	case PROP_SECURE:
		self->secure = g_value_get_boolean(value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
	}
}

static void gst_smaf_allocator_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
	GstSmafAllocator *self = GST_SMAF_ALLOCATOR(object);
	switch (id) {
	case PROP_DEVICES:
		g_value_set_string(value, self->devices);
		break;
	case PROP_ALLOCATOR:
		g_value_set_string(value, self->name);
		break;
	case PROP_SECURE:
		g_value_set_boolean(value, self->secure);
		break;
	case PROP_ERROR:
		g_value_set_string(value, self->error);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
	}
}

static void gst_smaf_allocator_finalize(GObject *object)
{
	GstSmafAllocator *self = GST_SMAF_ALLOCATOR(object);
	for (guint i = 0; i < self->fds->len; i++)
		close(g_array_index(self->fds, gint, i));
	g_array_free(self->fds, TRUE);
	g_strfreev(self->paths);
	g_free(self->devices);
	g_free(self->name);
	g_free(self->error);
	g_weak_ref_clear(&self->element);
	if (self->opened)
		smaf_close();
	G_OBJECT_CLASS(gst_smaf_allocator_parent_class)->finalize(object);
}

static void gst_smaf_allocator_class_init(GstSmafAllocatorClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->constructed = gst_smaf_allocator_constructed;
	object_class->set_property = gst_smaf_allocator_set_property;
	object_class->get_property = gst_smaf_allocator_get_property;
	object_class->finalize = gst_smaf_allocator_finalize;
	GST_ALLOCATOR_CLASS(klass)->alloc = gst_smaf_allocator_alloc;
	const GParamFlags cflags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
	g_object_class_install_property(object_class, PROP_DEVICES,
		g_param_spec_string("devices", "Devices", "Comma-separated device nodes the buffers are made for", NULL, cflags));
	g_object_class_install_property(object_class, PROP_ALLOCATOR,
		g_param_spec_string("allocator", "Allocator", "smafd allocator name (not with devices)", NULL, cflags));
	g_object_class_install_property(object_class, PROP_SECURE,
		g_param_spec_boolean("secure", "Secure", "Set the SMAF secure flag on each buffer", FALSE, cflags));
	g_object_class_install_property(object_class, PROP_ERROR,
		g_param_spec_string("error", "Error", "Why no buffer can be made (NULL: ready)", NULL,
				    G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
	GST_DEBUG_CATEGORY_INIT(smaf_allocator_debug, "smafallocator", 0, "SMAF dma-buf allocator");
}

static void gst_smaf_allocator_init(GstSmafAllocator *self)
{
	self->fds = g_array_new(FALSE, FALSE, sizeof(gint));
	g_weak_ref_init(&self->element, NULL);
	/* GstDmaBufAllocator's init set the memory type to GST_ALLOCATOR_DMABUF;
	 * GstFdAllocator's marked the allocator CUSTOM_ALLOC (its alloc() makes
	 * nothing), which makes pools and elements pass over it. This one's
	 * alloc() works for anyone. */
	GST_OBJECT_FLAG_UNSET(self, GST_ALLOCATOR_FLAG_CUSTOM_ALLOC);
}

GstResourceError gst_smaf_allocator_error_code(GstSmafAllocator *self)
{
	return self->error_code;
}

void gst_smaf_allocator_set_element(GstSmafAllocator *self, GstElement *element)
{
	g_weak_ref_set(&self->element, element);
}

guint gst_smaf_allocator_created(GstSmafAllocator *self)
{
	return (guint)g_atomic_int_get(&self->created);
}
