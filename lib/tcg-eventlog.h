/* SPDX-License-Identifier: MIT */
#pragma once

/* The TCG PC Client Platform Firmware Profile event log (binary_bios_measurements): the crypto-agile format
 * (a SHA-1-format Spec ID event, then TCG_PCR_EVENT2 records) and the legacy SHA-1-only format. Pure: parses
 * caller-provided memory, never does I/O. The replay trusts only digests; decoded event data is a label. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dw-error.h"
#include "hash.h"

#define DW_TCG_NR_PCRS        24
#define DW_TCG_MAX_ALGS       16 /* digest algorithms a Spec ID event may declare */
#define DW_TCG_EVENT_DATA_MAX (16u * 1024 * 1024)

/* Event types (PFP spec, section 10.4.1). */
#define EV_PREBOOT_CERT                  0x00000000u
#define EV_POST_CODE                     0x00000001u
#define EV_UNUSED                        0x00000002u
#define EV_NO_ACTION                     0x00000003u
#define EV_SEPARATOR                     0x00000004u
#define EV_ACTION                        0x00000005u
#define EV_EVENT_TAG                     0x00000006u
#define EV_S_CRTM_CONTENTS               0x00000007u
#define EV_S_CRTM_VERSION                0x00000008u
#define EV_CPU_MICROCODE                 0x00000009u
#define EV_PLATFORM_CONFIG_FLAGS         0x0000000Au
#define EV_TABLE_OF_DEVICES              0x0000000Bu
#define EV_COMPACT_HASH                  0x0000000Cu
#define EV_IPL                           0x0000000Du
#define EV_IPL_PARTITION_DATA            0x0000000Eu
#define EV_NONHOST_CODE                  0x0000000Fu
#define EV_NONHOST_CONFIG                0x00000010u
#define EV_NONHOST_INFO                  0x00000011u
#define EV_OMIT_BOOT_DEVICE_EVENTS       0x00000012u
#define EV_POST_CODE2                    0x00000013u
#define EV_EFI_EVENT_BASE                0x80000000u
#define EV_EFI_VARIABLE_DRIVER_CONFIG    0x80000001u
#define EV_EFI_VARIABLE_BOOT             0x80000002u
#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003u
#define EV_EFI_BOOT_SERVICES_DRIVER      0x80000004u
#define EV_EFI_RUNTIME_SERVICES_DRIVER   0x80000005u
#define EV_EFI_GPT_EVENT                 0x80000006u
#define EV_EFI_ACTION                    0x80000007u
#define EV_EFI_PLATFORM_FIRMWARE_BLOB    0x80000008u
#define EV_EFI_HANDOFF_TABLES            0x80000009u
#define EV_EFI_PLATFORM_FIRMWARE_BLOB2   0x8000000Au
#define EV_EFI_HANDOFF_TABLES2           0x8000000Bu
#define EV_EFI_VARIABLE_BOOT2            0x8000000Cu
#define EV_EFI_GPT_EVENT2                0x8000000Du
#define EV_EFI_HCRTM_EVENT               0x80000010u
#define EV_EFI_VARIABLE_AUTHORITY        0x800000E0u
#define EV_EFI_SPDM_FIRMWARE_BLOB        0x800000E1u
#define EV_EFI_SPDM_FIRMWARE_CONFIG      0x800000E2u

/* "EV_SEPARATOR", ...; NULL for an unknown type. */
const char *dw_tcg_event_type_name(uint32_t type);

struct dw_tcg_digest {
        uint16_t tpm_alg;      /* TPM_ALG_ID as logged */
        enum dw_hash_alg alg;  /* _DW_HASH_ALG_INVALID for an algorithm we cannot compute */
        const uint8_t *digest; /* into the log buffer */
        uint16_t size;
};

struct dw_tcg_event {
        uint64_t index; /* 0-based, the first (SHA-1-format) event is 0 */
        size_t offset;  /* byte offset of the event in the log */
        uint32_t pcr;
        uint32_t type;
        unsigned n_digests;
        struct dw_tcg_digest digests[DW_TCG_MAX_ALGS];
        const uint8_t *data; /* event data, into the log buffer */
        uint32_t data_len;
};

/* The TCG_EfiSpecIDEvent ("Spec ID Event03") of a crypto-agile log. */
struct dw_tcg_spec_id {
        uint32_t platform_class;
        uint8_t version_major, version_minor, errata, uintn_size;
        unsigned n_algs;
        struct {
                uint16_t tpm_alg;
                uint16_t size;
        } algs[DW_TCG_MAX_ALGS];
        const uint8_t *vendor_info;
        uint8_t vendor_info_size;
};

struct dw_tcg_parser {
        const uint8_t *buf;
        size_t len;
        size_t pos;
        uint64_t index;
        bool crypto_agile; /* false: every event is in the SHA-1-only TCG_PCClientPCREvent format */
        struct dw_tcg_spec_id spec_id;
};

/* Reads the first event; a crypto-agile log must declare its digest sizes there. Returns 0 or a negative errno
 * with err set. */
int dw_tcg_parser_init(struct dw_tcg_parser *p, const uint8_t *buf, size_t len, struct dw_error *err);
/* Returns 1 with *ret filled (the first call returns the first event), 0 at the clean end, or a negative errno
 * with err set: -EBADMSG for malformed data, -ENODATA for a log cut mid-event. */
int dw_tcg_parser_next(struct dw_tcg_parser *p, struct dw_tcg_event *ret, struct dw_error *err);

/* A one-line human label decoded from the event data (a string, an EFI variable's GUID and name, an image's
 * device path length...). Never used for replay. Writes at most size bytes, always NUL-terminated. */
void dw_tcg_event_describe(const struct dw_tcg_event *ev, char *buf, size_t size);

struct dw_tcg_replay {
        uint64_t events; /* records parsed, the first one included */
        uint8_t startup_locality;
        bool has_bank[_DW_HASH_ALG_MAX];
        uint32_t touched[_DW_HASH_ALG_MAX]; /* bitmask of PCRs extended per bank */
        uint8_t pcr[_DW_HASH_ALG_MAX][DW_TCG_NR_PCRS][DW_HASH_MAX_SIZE];
};

/* Replays a whole log: PCRs 0-23 of every bank the log carries (PCR 0 starts from the StartupLocality event's
 * locality). Returns 0 or a negative errno with err set. */
int dw_tcg_replay_log(struct dw_tcg_replay *r, struct dw_hasher *h, const uint8_t *buf, size_t len,
                      struct dw_error *err);
