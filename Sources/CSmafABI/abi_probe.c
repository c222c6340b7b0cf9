/* SPDX-License-Identifier: MIT */
/* The C compiler's view of smaf.h; see smaf_abi_probe.h. */
#include <string.h>
#include "smaf.h"
#include "smaf_ext.h"
#include "smaf_legacy.h"
#include "smaf_abi_probe.h"

/* The ABI is a contract: fail the build if the header ever drifts. */
_Static_assert(sizeof(struct smaf_create_data) == 128, "smaf_create_data is 128 bytes");
_Static_assert(sizeof(struct smaf_secure_flag) == 64, "smaf_secure_flag is 64 bytes");
_Static_assert(sizeof(struct smaf_info) == 128, "smaf_info is 128 bytes");
_Static_assert(SMAF_IOC_CREATE == 0xC0805300u, "SMAF_IOC_CREATE");
_Static_assert(SMAF_IOC_GET_SECURE_FLAG == 0xC0405301u, "SMAF_IOC_GET_SECURE_FLAG");
_Static_assert(SMAF_IOC_SET_SECURE_FLAG == 0xC0405302u, "SMAF_IOC_SET_SECURE_FLAG");
_Static_assert(SMAF_IOC_GET_INFO == 0xC0805303u, "SMAF_IOC_GET_INFO");

struct field {
	const char *name;
	size_t offset;
	size_t size;
};

#define FIELD(type, member) \
	{ #member, offsetof(struct type, member), sizeof(((struct type *)0)->member) }

static const struct field create_fields[] = {
	FIELD(smaf_create_data, version), FIELD(smaf_create_data, length),
	FIELD(smaf_create_data, flags), FIELD(smaf_create_data, reserved1),
	FIELD(smaf_create_data, fd), FIELD(smaf_create_data, reserved2),
	FIELD(smaf_create_data, name), FIELD(smaf_create_data, reserved3),
	{ NULL, 0, 0 },
};

static const struct field secure_fields[] = {
	FIELD(smaf_secure_flag, version), FIELD(smaf_secure_flag, fd),
	FIELD(smaf_secure_flag, reserved1), FIELD(smaf_secure_flag, secure),
	FIELD(smaf_secure_flag, reserved2),
	{ NULL, 0, 0 },
};

static const struct field info_fields[] = {
	FIELD(smaf_info, version), FIELD(smaf_info, index),
	FIELD(smaf_info, reserved1), FIELD(smaf_info, count),
	FIELD(smaf_info, reserved2), FIELD(smaf_info, name),
	FIELD(smaf_info, reserved3),
	{ NULL, 0, 0 },
};

static const struct field ext_handoff_fields[] = {
	FIELD(smaf_ext_handoff, version), FIELD(smaf_ext_handoff, protocol),
	FIELD(smaf_ext_handoff, reserved1), FIELD(smaf_ext_handoff, path),
	FIELD(smaf_ext_handoff, reserved2),
	{ NULL, 0, 0 },
};

static const struct field ext_status_fields[] = {
	FIELD(smaf_ext_status, version), FIELD(smaf_ext_status, live_buffers),
	FIELD(smaf_ext_status, live_bytes), FIELD(smaf_ext_status, channels),
	FIELD(smaf_ext_status, secure_buffers), FIELD(smaf_ext_status, created_total),
	FIELD(smaf_ext_status, ready_ahead), FIELD(smaf_ext_status, reserved),
	{ NULL, 0, 0 },
};

static const struct field handoff_msg_fields[] = {
	FIELD(smaf_handoff_msg, magic), FIELD(smaf_handoff_msg, protocol),
	FIELD(smaf_handoff_msg, token), FIELD(smaf_handoff_msg, flags),
	FIELD(smaf_handoff_msg, length),
	{ NULL, 0, 0 },
};

static const struct field ext_create_for_fields[] = {
	FIELD(smaf_ext_create_for, version), FIELD(smaf_ext_create_for, create),
	FIELD(smaf_ext_create_for, n_devices), FIELD(smaf_ext_create_for, reserved1),
	FIELD(smaf_ext_create_for, device_fds), FIELD(smaf_ext_create_for, reserved2),
	{ NULL, 0, 0 },
};

static const struct field ext_devices_fields[] = {
	FIELD(smaf_ext_devices, version), FIELD(smaf_ext_devices, length),
	FIELD(smaf_ext_devices, n_devices), FIELD(smaf_ext_devices, reserved1),
	FIELD(smaf_ext_devices, device_fds), FIELD(smaf_ext_devices, needs),
	FIELD(smaf_ext_devices, dma_mask_bits), FIELD(smaf_ext_devices, align),
	FIELD(smaf_ext_devices, allocators), FIELD(smaf_ext_devices, sources),
	FIELD(smaf_ext_devices, reserved2),
	{ NULL, 0, 0 },
};

static const struct field ext_connect_fields[] = {
	FIELD(smaf_ext_connect, version), FIELD(smaf_ext_connect, sock),
	FIELD(smaf_ext_connect, protocol), FIELD(smaf_ext_connect, reserved),
	{ NULL, 0, 0 },
};

/* The older generations, in this build's native layout (smaf_legacy.h). */
static const struct field legacy_v2_create_fields[] = {
	FIELD(smaf_legacy_v2_create, length), FIELD(smaf_legacy_v2_create, flags),
	FIELD(smaf_legacy_v2_create, fd),
	{ NULL, 0, 0 },
};

static const struct field legacy_v2_select_fields[] = {
	FIELD(smaf_legacy_v2_select, fd), FIELD(smaf_legacy_v2_select, name),
	{ NULL, 0, 0 },
};

static const struct field legacy_v3_create_fields[] = {
	FIELD(smaf_legacy_v3_create, length), FIELD(smaf_legacy_v3_create, flags),
	FIELD(smaf_legacy_v3_create, name), FIELD(smaf_legacy_v3_create, fd),
	{ NULL, 0, 0 },
};

static const struct field legacy_v2_secure_fields[] = {
	FIELD(smaf_legacy_v2_secure, fd), FIELD(smaf_legacy_v2_secure, secure),
	{ NULL, 0, 0 },
};

static const struct field legacy_v7_info_fields[] = {
	FIELD(smaf_legacy_v7_info, index), FIELD(smaf_legacy_v7_info, count),
	FIELD(smaf_legacy_v7_info, name),
	{ NULL, 0, 0 },
};

static const struct field legacy_s64_create_fields[] = {
	FIELD(smaf_legacy_s64_create, version), FIELD(smaf_legacy_s64_create, length),
	FIELD(smaf_legacy_s64_create, flags), FIELD(smaf_legacy_s64_create, reserved1),
	FIELD(smaf_legacy_s64_create, fd), FIELD(smaf_legacy_s64_create, reserved2),
	FIELD(smaf_legacy_s64_create, name), FIELD(smaf_legacy_s64_create, reserved3),
	{ NULL, 0, 0 },
};

static const struct field legacy_s64_secure_fields[] = {
	FIELD(smaf_legacy_s64_secure, version), FIELD(smaf_legacy_s64_secure, fd),
	FIELD(smaf_legacy_s64_secure, reserved1), FIELD(smaf_legacy_s64_secure, secure),
	FIELD(smaf_legacy_s64_secure, reserved2),
	{ NULL, 0, 0 },
};

struct probed {
	size_t size;
	size_t align;
	const struct field *fields;
};

#define PROBED(type, fields) { sizeof(struct type), _Alignof(struct type), fields }

/* Indexed by enum smaf_abi_struct. */
static const struct probed structs[] = {
	[SMAF_ABI_CREATE] = PROBED(smaf_create_data, create_fields),
	[SMAF_ABI_SECURE_FLAG] = PROBED(smaf_secure_flag, secure_fields),
	[SMAF_ABI_INFO] = PROBED(smaf_info, info_fields),
	[SMAF_ABI_EXT_HANDOFF] = PROBED(smaf_ext_handoff, ext_handoff_fields),
	[SMAF_ABI_EXT_STATUS] = PROBED(smaf_ext_status, ext_status_fields),
	[SMAF_ABI_HANDOFF_MSG] = PROBED(smaf_handoff_msg, handoff_msg_fields),
	[SMAF_ABI_EXT_CREATE_FOR] = PROBED(smaf_ext_create_for, ext_create_for_fields),
	[SMAF_ABI_EXT_DEVICES] = PROBED(smaf_ext_devices, ext_devices_fields),
	[SMAF_ABI_EXT_CONNECT] = PROBED(smaf_ext_connect, ext_connect_fields),
	[SMAF_ABI_LEGACY_V2_CREATE] = PROBED(smaf_legacy_v2_create, legacy_v2_create_fields),
	[SMAF_ABI_LEGACY_V2_SELECT] = PROBED(smaf_legacy_v2_select, legacy_v2_select_fields),
	[SMAF_ABI_LEGACY_V3_CREATE] = PROBED(smaf_legacy_v3_create, legacy_v3_create_fields),
	[SMAF_ABI_LEGACY_V2_SECURE] = PROBED(smaf_legacy_v2_secure, legacy_v2_secure_fields),
	[SMAF_ABI_LEGACY_V7_INFO] = PROBED(smaf_legacy_v7_info, legacy_v7_info_fields),
	[SMAF_ABI_LEGACY_S64_CREATE] = PROBED(smaf_legacy_s64_create, legacy_s64_create_fields),
	[SMAF_ABI_LEGACY_S64_SECURE] = PROBED(smaf_legacy_s64_secure, legacy_s64_secure_fields),
};

static const struct probed *probe(enum smaf_abi_struct s)
{
	return (unsigned)s < sizeof(structs) / sizeof(structs[0]) ? &structs[s] : NULL;
}

static const struct field *find(enum smaf_abi_struct s, const char *name)
{
	const struct probed *p = probe(s);
	const struct field *f = p ? p->fields : NULL;
	for (; f && f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

size_t smaf_abi_struct_size(enum smaf_abi_struct s)
{
	return probe(s) ? probe(s)->size : 0;
}

size_t smaf_abi_struct_align(enum smaf_abi_struct s)
{
	return probe(s) ? probe(s)->align : 0;
}

size_t smaf_abi_field_offset(enum smaf_abi_struct s, const char *field)
{
	const struct field *f = find(s, field);
	return f ? f->offset : (size_t)-1;
}

size_t smaf_abi_field_size(enum smaf_abi_struct s, const char *field)
{
	const struct field *f = find(s, field);
	return f ? f->size : 0;
}

uint32_t smaf_abi_ioc_create(void) { return SMAF_IOC_CREATE; }
uint32_t smaf_abi_ioc_get_secure_flag(void) { return SMAF_IOC_GET_SECURE_FLAG; }
uint32_t smaf_abi_ioc_set_secure_flag(void) { return SMAF_IOC_SET_SECURE_FLAG; }
uint32_t smaf_abi_ioc_get_info(void) { return SMAF_IOC_GET_INFO; }
uint32_t smaf_abi_flag_rdwr(void) { return SMAF_RDWR; }
uint32_t smaf_abi_flag_cloexec(void) { return SMAF_CLOEXEC; }
uint32_t smaf_abi_max_name_length(void) { return MAX_NAME_LENGTH; }
uint32_t smaf_abi_ioc_magic(void) { return SMAF_IOC_MAGIC; }
uint32_t smaf_abi_ioc_ext_handoff(void) { return SMAF_IOC_EXT_HANDOFF; }
uint32_t smaf_abi_ioc_ext_status(void) { return SMAF_IOC_EXT_STATUS; }
uint32_t smaf_abi_ioc_ext_create_for(void) { return SMAF_IOC_EXT_CREATE_FOR; }
uint32_t smaf_abi_ioc_ext_devices(void) { return SMAF_IOC_EXT_DEVICES; }
uint32_t smaf_abi_ext_max_devices(void) { return SMAF_EXT_MAX_DEVICES; }
uint32_t smaf_abi_ioc_ext_connect(void) { return SMAF_IOC_EXT_CONNECT; }

uint32_t smaf_abi_ioc_by_name(const char *name)
{
	static const struct { const char *name; uint32_t number; } numbers[] = {
		{ "SMAF_LEGACY_IOC_V2_CREATE", SMAF_LEGACY_IOC_V2_CREATE },
		{ "SMAF_LEGACY_IOC_V2_SELECT_BY_NAME", SMAF_LEGACY_IOC_V2_SELECT_BY_NAME },
		{ "SMAF_LEGACY_IOC_V3_CREATE", SMAF_LEGACY_IOC_V3_CREATE },
		{ "SMAF_LEGACY_IOC_V2_GET_SECURE_FLAG", SMAF_LEGACY_IOC_V2_GET_SECURE_FLAG },
		{ "SMAF_LEGACY_IOC_V2_SET_SECURE_FLAG", SMAF_LEGACY_IOC_V2_SET_SECURE_FLAG },
		{ "SMAF_LEGACY_IOC_V7_GET_INFO", SMAF_LEGACY_IOC_V7_GET_INFO },
		{ "SMAF_LEGACY_IOC_S64_CREATE", SMAF_LEGACY_IOC_S64_CREATE },
		{ "SMAF_LEGACY_IOC_S64_GET_SECURE_FLAG", SMAF_LEGACY_IOC_S64_GET_SECURE_FLAG },
		{ "SMAF_LEGACY_IOC_S64_SET_SECURE_FLAG", SMAF_LEGACY_IOC_S64_SET_SECURE_FLAG },
	};
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
		if (strcmp(numbers[i].name, name) == 0)
			return numbers[i].number;
	return 0;
}
