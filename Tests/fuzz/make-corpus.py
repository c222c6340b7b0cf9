#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of smaf-fuzz into Tests/fuzz/corpus/ (replacing it).

The input format is documented at the top of Tests/fuzz/smaf-fuzz/FuzzTarget.swift:
a 4-byte header (secure module, registry and page size, fd-table seed, which
recorded buffers start secure), then operations (request choice and size mode,
caller, struct bytes). The seeds are well-formed requests of every kind under
every secure module, the refusals the README documents, legacy and foreign
numbers, and short, long and missing arguments, so fuzzing starts from deep
paths. `smaf-fuzz -v Tests/fuzz/corpus` (a plain build) shows what each does.

    Tests/fuzz/make-corpus.py [OUTPUT_DIR]
"""
import os
import struct
import sys

CREATE, GET_SECURE, SET_SECURE, GET_INFO, EXT_HANDOFF, EXT_STATUS, EXT_CREATE_FOR, EXT_DEVICES = 0, 1, 2, 3, 4, 5, 6, 7
LEGACY, S_TYPE, FLIPPED, ANY = 8, 9, 10, 11
KNOWN = [0xC0805300, 0xC0405301, 0xC0405302, 0xC0805303, 0xC0805340, 0xC0805341, 0xC1005342, 0xC1005343]
STRUCT_SIZE = {0xC0805300: 128, 0xC0405301: 64, 0xC0405302: 64, 0xC0805303: 128, 0xC0805340: 128, 0xC0805341: 128,
               0xC1005342: 256, 0xC1005343: 256}
LEGACY_NUMBERS = [
    0xC0505300, 0xC04C5300, 0xC0105300, 0xC00C5300, 0xC0085301, 0xC0085302, 0xC0485303,
    0xC0445303, 0xC0885300, 0xC0485301, 0xC0485302, 0xC0845300, 0xC0445301, 0xC0445302,
]
SMAF_RDWR, SMAF_CLOEXEC = 0o2, 0o2000000

# h0: secure module
NONE, TESTSECURE, DENY_CPU = 0, 1, 2


def scripted(will=0, context_fails=False, destroy_refuses=False, seal_only=False):
    """h0 for the scripted module: will 1 = EBUSY, 2 = EINVAL, 0 = allow;
    seal_only: enforceable on sealable buffers only, like deny-cpu."""
    return (3 | will << 2 | (0x10 if context_fails else 0) | (0x20 if destroy_refuses else 0) |
            (0x40 if seal_only else 0))


def header(module=TESTSECURE, registry=2, page_shift=0, fd_seed=1, secure_mask=0, legacy=False):
    return bytes([module, registry | page_shift << 2, fd_seed, secure_mask | (0x10 if legacy else 0)])


def ioc(dir_, type_, nr, size):
    return dir_ << 30 | size << 16 | type_ << 8 | nr


def op(choice, payload=b"", *, extra=b"", number=None, zero_version=False, sizes=0, explicit=None, out=None,
       tid=1000, uid=1000, gid=1000):
    """One operation. choice: the request code (0-15); number: the request
    number it stands for (needed for choices 8-15 to size the payload)."""
    if number is None:
        number = KNOWN[choice] if choice < 8 else None
    k = choice | (0x10 if zero_version else 0) | sizes << 5 | (0x80 if out is not None else 0)
    b = bytes([k]) + extra
    if sizes == 0:
        size = (number >> 16) & 0x3FFF
        in_count = size if (number >> 30) & 1 else 0
    elif sizes == 1:
        in_count = STRUCT_SIZE.get(number, 128)
    elif sizes == 2:
        in_count = explicit[0]
        b += struct.pack("<HH", explicit[0], explicit[1])
    else:
        in_count = 0
    if out is not None:
        b += struct.pack("<H", out)
    b += struct.pack("<iII", tid, uid, gid)
    return b + payload[:in_count].ljust(in_count, b"\0")


def create(length=16384, flags=SMAF_RDWR | SMAF_CLOEXEC, name=b"", version=0, fd=-7, reserved=b""):
    s = struct.pack("<QQIIiI", version, length, flags, 0, fd, 0) + name.ljust(64, b"\0")[:64]
    return s + reserved.ljust(32, b"\0")[:32]


def secure_flag(fd, secure=0, version=0, reserved=b""):
    return struct.pack("<QiII", version, fd, 0, secure) + reserved.ljust(44, b"\0")[:44]


def info(index, version=0, reserved=b""):
    return struct.pack("<QIIII", version, index, 0, 0, 0) + b"\0" * 64 + reserved.ljust(40, b"\0")[:40]


def ext(version=0):
    return struct.pack("<Q", version) + b"\0" * 120


def create_for(fds, count=None, version=0, **kw):
    """SMAF_IOC_EXT_CREATE_FOR: the create struct, then the device fds."""
    fds = list(fds)[:16]
    return (struct.pack("<Q", version) + create(**kw) + struct.pack("<II", len(fds) if count is None else count, 0) +
            struct.pack("<16i", *(fds + [0] * (16 - len(fds)))) + b"\0" * 48)


def devices(fds, count=None, length=4096, version=0):
    """SMAF_IOC_EXT_DEVICES."""
    fds = list(fds)[:16]
    return (struct.pack("<QQII", version, length, len(fds) if count is None else count, 0) +
            struct.pack("<16i", *(fds + [0] * (16 - len(fds)))) + b"\0" * 168)


def seeds():
    marks = bytes(range(1, 45))  # non-zero reserved bytes must come back as sent
    s = {}
    # GET_INFO: every index of every registry, one past the end, version 1.
    for reg in (0, 1, 2, 3):
        s[f"get-info-registry{reg}"] = header(registry=reg) + b"".join(
            op(GET_INFO, info(i, reserved=marks)) for i in range(reg + 2)) + op(GET_INFO, info(0, version=1))
    s["get-info-huge-index"] = header() + op(GET_INFO, info(0xFFFFFFFF)) + op(GET_INFO, info(0x80000000))
    # CREATE: well-formed (ENOTCONN: no handoff channel), then each refusal.
    s["create-wellformed"] = header() + b"".join(op(CREATE, create(name=n, flags=f, reserved=marks)) for n, f in [
        (b"", SMAF_RDWR | SMAF_CLOEXEC), (b"smaf-memfd", SMAF_RDWR), (b"smaf-cma", 0), (b"", SMAF_CLOEXEC)])
    s["create-refusals"] = header() + b"".join(op(CREATE, c) for c in [
        create(version=1), create(flags=0x1), create(flags=0xFFFFFFFF), create(length=0),
        create(length=2**64 - 1), create(length=2**63), create(length=2**63 - 4096),
        create(name=b"deadbeef"), create(name=b"smaf-memfd\x01"), create(name=b"smaf memfd"),
        create(name=b"x" * 64), create(name=b"smaf-memfd".ljust(63, b"\0") + b"Z")])
    for p in range(4):  # the largest length that still rounds to an off_t, and one more
        page = 4096 << 2 * p
        s[f"create-page-size-{page}"] = header(page_shift=p) + op(CREATE, create(length=2**63 - page)) + \
            op(CREATE, create(length=2**63 - page + 1)) + op(CREATE, create(length=1))
    s["create-empty-registry"] = header(registry=0) + op(CREATE, create()) + op(CREATE, create(name=b"smaf-memfd"))
    s["create-tid-gone"] = header(fd_seed=2) + op(CREATE, create(), tid=14) + op(CREATE, create(), tid=-1)
    # GET/SET_SECURE_FLAG under each secure module: set, read, clear, read,
    # on a recorded buffer, a file that is not a buffer, a closed fd, -1.
    flow = (op(SET_SECURE, secure_flag(1, 1, reserved=marks)) + op(GET_SECURE, secure_flag(1, reserved=marks)) +
            op(SET_SECURE, secure_flag(1, 1)) + op(SET_SECURE, secure_flag(2, 0)) +
            op(SET_SECURE, secure_flag(1, 0)) + op(GET_SECURE, secure_flag(1)) +
            op(GET_SECURE, secure_flag(5)) + op(SET_SECURE, secure_flag(5, 1)) +
            op(GET_SECURE, secure_flag(9)) + op(SET_SECURE, secure_flag(9, 1)) +
            op(GET_SECURE, secure_flag(-1)) + op(SET_SECURE, secure_flag(-1, 1)) +
            op(GET_SECURE, secure_flag(1, version=2)) + op(SET_SECURE, secure_flag(1, 1, version=2)) +
            op(GET_SECURE, secure_flag(0x7FFFFFFF)) + op(GET_SECURE, secure_flag(3), tid=0))
    for name, module in [("none", NONE), ("testsecure", TESTSECURE), ("deny-cpu", DENY_CPU),
                         ("scripted-ebusy", scripted(will=1)), ("scripted-einval", scripted(will=2)),
                         ("scripted-no-context", scripted(context_fails=True)),
                         ("scripted-keeps-secure", scripted(destroy_refuses=True))]:
        s[f"secure-{name}"] = header(module=module, secure_mask=0b0100) + flow
    # Registry 3: recorded buffer 3 was made by a dma-buf allocator that no
    # seal applies to; a policy that needs the seal refuses to secure it.
    unsealable = (op(SET_SECURE, secure_flag(3, 1)) + op(GET_SECURE, secure_flag(3)) +
                  op(SET_SECURE, secure_flag(1, 1)) + op(SET_SECURE, secure_flag(3, 0)) +
                  op(CREATE, create(name=b"smaf-fake-dmabuf", flags=0)) + op(CREATE, create(length=1 << 20)))
    for name, module, reg in [("deny-cpu", DENY_CPU, 3), ("scripted-seal-only", scripted(seal_only=True), 3),
                              ("scripted-seal-only-unregistered", scripted(seal_only=True), 2),
                              ("testsecure", TESTSECURE, 3)]:
        s[f"secure-unsealable-{name}"] = header(module=module, registry=reg) + unsealable
    # Devices (FuzzEnvironment: even fds 4-7 are character devices, odd ones
    # other files, 8-11 not open, 0-3 buffers): each errno, then the good ones.
    for reg in (0, 1, 3):
        s[f"create-for-registry{reg}"] = header(registry=reg) + b"".join(op(EXT_CREATE_FOR, c) for c in [
            create_for([]), create_for([4]), create_for([4, 6]), create_for([5]), create_for([8]), create_for([0]),
            create_for([4], count=17), create_for([4], count=0xFFFFFFFF), create_for([4], name=b"smaf-memfd"),
            create_for([6], name=b"nonexistent"), create_for([4], length=0), create_for([4], version=1),
            create_for([4] * 16)])
        s[f"devices-registry{reg}"] = header(registry=reg) + b"".join(op(EXT_DEVICES, d) for d in [
            devices([]), devices([4]), devices([6]), devices([4, 6], length=1 << 30), devices([5]), devices([9]),
            devices([4], count=17), devices([4] * 16, length=0)])
    s["secure-hashed-fds"] = header(fd_seed=77) + b"".join(
        op(GET_SECURE, secure_flag(fd)) + op(SET_SECURE, secure_flag(fd, 1)) for fd in (12, 13, 100, 4096, 65535))
    # smafd's extensions: status (totals of the 4 recorded buffers), handoff
    # (no socket here: EINVAL), version 1.
    s["ext-status-handoff"] = header(secure_mask=0b1010) + op(EXT_STATUS, ext()) + op(EXT_HANDOFF, ext()) + \
        op(EXT_STATUS, ext(1)) + op(EXT_HANDOFF, ext(1))
    # Legacy numbers (refused, named in the log), and flipped bits of the
    # v10 numbers.
    s["legacy-numbers"] = header() + b"".join(
        op(LEGACY, create(), extra=bytes([i]), number=n) for i, n in enumerate(LEGACY_NUMBERS))
    # The same with --abi-generations all: translated onto the v10
    # operations. Payloads laid out per generation (docs/generations.md).
    def legacy(n, payload):
        return op(LEGACY, payload, extra=bytes([LEGACY_NUMBERS.index(n)]), number=n)
    v3 = lambda length, flags, name=b"": struct.pack("<QI", length, flags) + name.ljust(64, b"\0") + struct.pack("<i", -7)
    v3_32 = lambda length, flags, name=b"": struct.pack("<II", length, flags) + name.ljust(64, b"\0") + struct.pack("<i", -7)
    s64 = lambda fd, secure=0, version=0: struct.pack("<QqII", version, fd, 0, secure) + bytes(48)
    s["legacy-enabled-numbers"] = header(legacy=True) + b"".join(
        op(LEGACY, create(), extra=bytes([i]), number=n) for i, n in enumerate(LEGACY_NUMBERS))
    s["legacy-enabled-create-secure"] = header(legacy=True, secure_mask=0b0100) + \
        legacy(0xC0505300, v3(8193, 0x80042, b"smaf-memfd")) + legacy(0xC04C5300, v3_32(4096, 1, b"deadbeef")) + \
        legacy(0xC0105300, struct.pack("<QIi", 4096, 2, -7)) + legacy(0xC00C5300, struct.pack("<IIi", 0, 2, -7)) + \
        legacy(0xC0085302, struct.pack("<ii", 1, 1)) + legacy(0xC0085301, struct.pack("<ii", 1, 0)) + \
        legacy(0xC0085301, struct.pack("<ii", -1, 0)) + legacy(0xC0085302, struct.pack("<ii", 2, 0)) + \
        legacy(0xC0485303, struct.pack("<ii", 0, 0))
    s["legacy-enabled-info-s64"] = header(legacy=True, secure_mask=0b0100) + legacy(0xC0485303, struct.pack("<ii", 1, 0)) + \
        legacy(0xC0485303, struct.pack("<ii", -1, 0)) + legacy(0xC0445303, struct.pack("<i", 0) + b"smaf-memfd") + \
        legacy(0xC0485302, s64(3, 1)) + legacy(0xC0485301, s64(3)) + legacy(0xC0445301, s64(1 << 40)) + \
        legacy(0xC0445302, s64(0, 1, version=1)) + \
        legacy(0xC0885300, create(flags=0x42)) + legacy(0xC0845300, create())
    s["flipped-bits"] = header() + b"".join(
        op(FLIPPED, create(), extra=bytes([w, bit]), number=KNOWN[w] ^ 1 << bit)
        for w, bit in [(0, 0), (0, 8), (0, 16), (0, 30), (1, 31), (2, 1), (3, 2), (4, 6), (5, 7)])
    # 'S'-type numbers in every direction and foreign numbers.
    s_nums = [ioc(d, 0x53, nr, size) for d, nr, size in
              [(3, 4, 128), (0, 0, 0), (1, 0, 128), (2, 0, 128), (3, 255, 16383), (3, 0x40, 64), (2, 3, 128)]]
    s["s-type-numbers"] = header() + b"".join(
        op(S_TYPE, create(), extra=struct.pack("<I", n), number=n) for n in s_nums)
    foreign = [ioc(2, ord("T"), 1, 4), 0x5401, 0x541B, ioc(3, ord("d"), 0, 24), 0xFFFFFFFF, 0]
    s["foreign-numbers"] = header() + b"".join(
        op(ANY, b"\xff" * 64, extra=struct.pack("<I", n), number=n) for n in foreign)
    # Short, long and missing arguments for the v10 numbers.
    s["sizes-short-long"] = header() + b"".join(
        op(c, create(), sizes=2, explicit=e) for c in (CREATE, GET_SECURE, SET_SECURE, GET_INFO, EXT_STATUS)
        for e in [(0, 128), (1, 128), (127, 128), (129, 129), (1023, 1023), (128, 0), (64, 63), (128, 127)])
    s["sizes-no-input"] = header() + b"".join(op(c, sizes=3) for c in range(8))
    s["sizes-out-capacity"] = header() + b"".join(
        op(c, info(0), out=o, sizes=1) for c in (GET_INFO, EXT_STATUS, GET_SECURE) for o in (0, 1, 63, 64, 1000))
    s["zero-version-flag"] = header() + op(GET_INFO, info(1, version=9), zero_version=True) + \
        op(GET_SECURE, secure_flag(0, version=3), zero_version=True)
    s["callers"] = header() + b"".join(
        op(GET_INFO, info(0), tid=t, uid=u, gid=g)
        for t, u, g in [(0, 0, 0), (-1, 0xFFFFFFFF, 0xFFFFFFFF), (0x7FFFFFFF, 65534, 65534), (1, 0, 0)])
    s["empty"] = b""
    s["header-only"] = header()
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        os.remove(os.path.join(out, f))
    for name, data in sorted(seeds().items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"make-corpus: {len(seeds())} seeds in {out}")


if __name__ == "__main__":
    main()
