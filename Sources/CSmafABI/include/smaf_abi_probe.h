/* SPDX-License-Identifier: MIT */
/*
 * What the C compiler makes of smaf.h, exported as plain functions so Swift
 * tests can compare their own codec against it (Swift cannot import the
 * function-like _IOWR macros, and offsetof is a C-side fact).
 */
#ifndef SMAF_ABI_PROBE_H
#define SMAF_ABI_PROBE_H

#include <stddef.h>
#include <stdint.h>

enum smaf_abi_struct {
	SMAF_ABI_CREATE = 0,
	SMAF_ABI_SECURE_FLAG = 1,
	SMAF_ABI_INFO = 2,
	SMAF_ABI_EXT_HANDOFF = 3, /* smaf_ext.h */
	SMAF_ABI_EXT_STATUS = 4,
	SMAF_ABI_HANDOFF_MSG = 5,
	SMAF_ABI_EXT_CREATE_FOR = 6,
	SMAF_ABI_EXT_DEVICES = 7,
	SMAF_ABI_EXT_CONNECT = 8,
	/* smaf_legacy.h, in this build's native layout */
	SMAF_ABI_LEGACY_V2_CREATE = 9,
	SMAF_ABI_LEGACY_V2_SELECT = 10,
	SMAF_ABI_LEGACY_V3_CREATE = 11,
	SMAF_ABI_LEGACY_V2_SECURE = 12,
	SMAF_ABI_LEGACY_V7_INFO = 13,
	SMAF_ABI_LEGACY_S64_CREATE = 14,
	SMAF_ABI_LEGACY_S64_SECURE = 15,
};

/* sizeof / _Alignof of one of the structs. */
size_t smaf_abi_struct_size(enum smaf_abi_struct s);
size_t smaf_abi_struct_align(enum smaf_abi_struct s);
/* offsetof a field by its C name; (size_t)-1 if the struct has no such field. */
size_t smaf_abi_field_offset(enum smaf_abi_struct s, const char *field);
/* sizeof a field by its C name; 0 if the struct has no such field. */
size_t smaf_abi_field_size(enum smaf_abi_struct s, const char *field);
/* Request numbers and constants as the C preprocessor computes them. */
uint32_t smaf_abi_ioc_create(void);
uint32_t smaf_abi_ioc_get_secure_flag(void);
uint32_t smaf_abi_ioc_set_secure_flag(void);
uint32_t smaf_abi_ioc_get_info(void);
uint32_t smaf_abi_flag_rdwr(void);
uint32_t smaf_abi_flag_cloexec(void);
uint32_t smaf_abi_max_name_length(void);
uint32_t smaf_abi_ioc_magic(void);
uint32_t smaf_abi_ioc_ext_handoff(void);
uint32_t smaf_abi_ioc_ext_status(void);
uint32_t smaf_abi_ioc_ext_create_for(void);
uint32_t smaf_abi_ioc_ext_devices(void);
uint32_t smaf_abi_ext_max_devices(void);
uint32_t smaf_abi_ioc_ext_connect(void);
/* A request number of smaf_legacy.h by its macro's name; 0 if unknown. */
uint32_t smaf_abi_ioc_by_name(const char *name);

#endif
