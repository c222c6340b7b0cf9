/* SPDX-License-Identifier: MIT */
/* The C compiler's view of smaf.h; see smaf_abi_probe.h. */
#include <string.h>
#include "smaf.h"
#include "smaf_ext.h"
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
	FIELD(smaf_ext_status, reserved),
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

static const struct field *fields_of(enum smaf_abi_struct s)
{
	switch (s) {
	case SMAF_ABI_CREATE: return create_fields;
	case SMAF_ABI_SECURE_FLAG: return secure_fields;
	case SMAF_ABI_INFO: return info_fields;
	case SMAF_ABI_EXT_HANDOFF: return ext_handoff_fields;
	case SMAF_ABI_EXT_STATUS: return ext_status_fields;
	case SMAF_ABI_EXT_CREATE_FOR: return ext_create_for_fields;
	case SMAF_ABI_EXT_DEVICES: return ext_devices_fields;
	case SMAF_ABI_HANDOFF_MSG: return handoff_msg_fields;
	}
	return NULL;
}

static const struct field *find(enum smaf_abi_struct s, const char *name)
{
	const struct field *f = fields_of(s);
	for (; f && f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

size_t smaf_abi_struct_size(enum smaf_abi_struct s)
{
	switch (s) {
	case SMAF_ABI_CREATE: return sizeof(struct smaf_create_data);
	case SMAF_ABI_SECURE_FLAG: return sizeof(struct smaf_secure_flag);
	case SMAF_ABI_INFO: return sizeof(struct smaf_info);
	case SMAF_ABI_EXT_HANDOFF: return sizeof(struct smaf_ext_handoff);
	case SMAF_ABI_EXT_STATUS: return sizeof(struct smaf_ext_status);
	case SMAF_ABI_EXT_CREATE_FOR: return sizeof(struct smaf_ext_create_for);
	case SMAF_ABI_EXT_DEVICES: return sizeof(struct smaf_ext_devices);
	case SMAF_ABI_HANDOFF_MSG: return sizeof(struct smaf_handoff_msg);
	}
	return 0;
}

size_t smaf_abi_struct_align(enum smaf_abi_struct s)
{
	switch (s) {
	case SMAF_ABI_CREATE: return _Alignof(struct smaf_create_data);
	case SMAF_ABI_SECURE_FLAG: return _Alignof(struct smaf_secure_flag);
	case SMAF_ABI_INFO: return _Alignof(struct smaf_info);
	case SMAF_ABI_EXT_HANDOFF: return _Alignof(struct smaf_ext_handoff);
	case SMAF_ABI_EXT_STATUS: return _Alignof(struct smaf_ext_status);
	case SMAF_ABI_EXT_CREATE_FOR: return _Alignof(struct smaf_ext_create_for);
	case SMAF_ABI_EXT_DEVICES: return _Alignof(struct smaf_ext_devices);
	case SMAF_ABI_HANDOFF_MSG: return _Alignof(struct smaf_handoff_msg);
	}
	return 0;
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
