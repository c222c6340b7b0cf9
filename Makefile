# SPDX-License-Identifier: MIT
# The C side of smaf-cuse (GNU make; scripts/build-c runs `make -s all`).
# Everything goes to .build/c/:
#   libsmaf.so.0.1.0, libsmaf.so.0, libsmaf.so   the libsmaf API (lib/libsmaf.h)
#   libsmaf-preload.so                           LD_PRELOAD shim for raw ioctl() users
#   gst/libgstsmaf.so, gst/registry.bin          the GStreamer plugin "smaf" (gst/, docs/gstreamer.md)
#                                                and a plugin registry that lists it, for the VM
#                                                tier (a registry scan there takes minutes)
#   one program per tools/*.c, examples/*.c and Tests/vm/*/*.c, named after the source file,
#                                                underscores turned into dashes
# A program whose source includes "libsmaf.h" is linked with -lsmaf and an
# $ORIGIN rpath, so it finds libsmaf.so.0 in its own directory; the others
# use nothing but libc and the uapi header, like any client of the driver.
#
#   make [all]       build (the default)
#   make clean       remove .build/c
#   make install     install smafd, smafctl, libsmaf (soname links, headers,
#                    libsmaf.pc), the preload shim, the udev rule, the systemd
#                    unit, the man pages and the shell completions, and (when
#                    built) the GStreamer plugin with its header and
#                    gstreamer-smaf-1.0.pc; honours GST_PLUGINDIR and
#                    PREFIX, BINDIR, SBINDIR, LIBDIR, INCLUDEDIR, PKGCONFIGDIR,
#                    MANDIR, BASHCOMPDIR, ZSHCOMPDIR, FISHCOMPDIR, UDEVRULESDIR,
#                    SYSTEMDUNITDIR and DESTDIR (docs/operations.md, "Installation")
#   make uninstall   remove exactly what install put there (same variables)
#
# M32=1 (scripts/build-c --m32) builds the same for i386 with gcc -m32
# (gcc-multilib) into .build/c32/, except the benchmark programs, which need
# an i386 libfuse3. `make install M32=1` installs only the 32-bit libsmaf
# (soname links, libsmaf.pc) and the shim, into LIBDIR, by default the
# multiarch directory $(PREFIX)/lib/i386-linux-gnu; headers, binaries and the
# rest come from the 64-bit install. `make uninstall M32=1` removes those.
# The GStreamer plugin (gst/) and the programs that use it are built when
# pkg-config finds GStreamer's development files (scripts/install-deps
# installs them), never with M32=1 (Debian has no i386 GStreamer -dev here).

M32 ?=
ifeq ($(M32),1)
ARCH_FLAGS := -m32
OUT ?= .build/c32
else
ARCH_FLAGS :=
endif
# OUT can be moved (debian/rules builds into .build-deb/c, beside the test build).
OUT ?= .build/c
OBJ := $(OUT)/obj

ifeq ($(origin CC),default)
CC := gcc
endif
CFLAGS := -O2 -g -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE
CPPFLAGS := -ISources/CSmafABI/include -Ilib
# Added to the libraries' compile and link lines (debian/rules passes
# dpkg-buildflags' hardening flags here).
LIB_EXTRA_CFLAGS ?=
LIB_EXTRA_LDFLAGS ?=
LIB_CFLAGS := $(CFLAGS) -fPIC $(LIB_EXTRA_CFLAGS)
LIBSMAF_LDFLAGS = -L$(OUT) -lsmaf -Wl,-rpath,'$$ORIGIN'

# The one place the version lives: VERSION (the Debian changelog, smafd and
# smafctl are checked against it by Tests/host/package-tests.sh).
LIBSMAF_VERSION := $(shell cat VERSION)
LIBSMAF_SONAME := libsmaf.so.0
LIBSMAF := $(OUT)/libsmaf.so.$(LIBSMAF_VERSION)
LIBSMAF_LINKS := $(OUT)/libsmaf.so.0 $(OUT)/libsmaf.so
PRELOAD := $(OUT)/libsmaf-preload.so

# The GStreamer plugin: built natively when its -dev packages are there.
GST_PKGS := gstreamer-1.0 gstreamer-base-1.0 gstreamer-video-1.0 gstreamer-allocators-1.0
WITH_GST ?= $(if $(ARCH_FLAGS),,$(shell pkg-config --exists $(GST_PKGS) && echo 1))
GST_PLUGIN := $(OUT)/gst/libgstsmaf.so
GST_REGISTRY_FILE := $(OUT)/gst/registry.bin
GST_SRCS := gst/gstsmafallocator.c gst/gstsmafpool.c
# The plugin finds libsmaf.so.0 one directory up in the build tree; the
# package builds it without (libsmaf0 is on the linker's path).
GST_RPATH ?= -Wl,-rpath,'$$ORIGIN/..'
GST_CFLAGS = $(if $(WITH_GST),$(shell pkg-config --cflags $(GST_PKGS)))
GST_LIBS = $(if $(WITH_GST),$(shell pkg-config --libs $(GST_PKGS)))
# Programs that use the plugin's public header (gst/gstsmafallocator.h).
GST_USER_SRCS := $(shell grep -l 'include[[:space:]]*["<]gstsmafallocator\.h[">]' Tests/vm/*/*.c 2>/dev/null)

PROG_SRCS := $(filter-out $(if $(WITH_GST),,$(GST_USER_SRCS)),$(wildcard tools/*.c examples/*.c Tests/vm/*/*.c $(if $(ARCH_FLAGS),,bench/smaf_bench.c)))
prog_name = $(OUT)/$(subst _,-,$(basename $(notdir $(1))))
PROGS := $(foreach s,$(PROG_SRCS),$(call prog_name,$(s)))
LIBSMAF_USERS := $(if $(PROG_SRCS),$(shell grep -l 'include[[:space:]]*["<]libsmaf\.h[">]' $(PROG_SRCS)))
# Programs that use smafd's vkms judge (smaf_vkms.h) are built with its source.
VKMS_SRC := Sources/CSmafSys/smaf_vkms.c
VKMS_USERS := $(if $(PROG_SRCS),$(shell grep -l 'include[[:space:]]*["<]smaf_vkms\.h[">]' $(PROG_SRCS)))

.PHONY: all clean install uninstall swift-products FORCE
.DELETE_ON_ERROR:

all: $(LIBSMAF) $(LIBSMAF_LINKS) $(PRELOAD) $(PROGS) $(if $(ARCH_FLAGS),,$(OUT)/cuse-baseline) \
	$(if $(WITH_GST),$(GST_PLUGIN) $(GST_REGISTRY_FILE))

$(OBJ):
	mkdir -p $@

$(OBJ)/%.o: lib/%.c | $(OBJ)
	$(CC) $(ARCH_FLAGS) $(CPPFLAGS) $(LIB_CFLAGS) -MMD -MP -c -o $@ $<

# The handoff functions must stay interposable (see lib/smaf_handoff.h): each
# library must reach them through a relocation, never by a local call.
# (x86_64's RELA lines end in "+ 0" after the name, i386's REL lines do not.)
check_interposable = readelf -rW $@ | grep -Eq 'smaf__handoff_ioctl( |$$)' && \
	readelf -rW $@ | grep -q 'smaf__handoff_ioctl_node' && \
	readelf -rW $@ | grep -q 'smaf__handoff_disconnect' || \
	{ echo "$@: calls to smaf__handoff_* are bound locally; the libraries would not share one channel table" >&2; \
	  rm -f $@; exit 1; }

$(LIBSMAF): $(OBJ)/libsmaf.o $(OBJ)/smaf_handoff.o
	$(CC) $(ARCH_FLAGS) -shared -Wl,-soname,$(LIBSMAF_SONAME) -Wl,-z,defs $(LIB_EXTRA_LDFLAGS) -o $@ $^ -pthread
	@$(check_interposable)

$(OUT)/libsmaf.so.0: $(LIBSMAF)
	ln -sfn $(notdir $<) $@

$(OUT)/libsmaf.so: $(OUT)/libsmaf.so.0
	ln -sfn $(notdir $<) $@

$(PRELOAD): $(OBJ)/libsmaf-preload.o $(OBJ)/smaf_handoff.o
	$(CC) $(ARCH_FLAGS) -shared -Wl,-soname,libsmaf-preload.so -Wl,-z,defs $(LIB_EXTRA_LDFLAGS) -o $@ $^ -pthread
	@readelf -rW $@ | grep -q 'smaf__handoff_ioctl' || \
	{ echo "$@: ioctl() calls smaf__handoff_ioctl locally" >&2; rm -f $@; exit 1; }

# One rule per program: $(1) is its source.
define program
$(call prog_name,$(1)): $(1) $(if $(filter $(1),$(LIBSMAF_USERS)),$(OUT)/libsmaf.so) $(if $(filter $(1),$(VKMS_USERS)),$(VKMS_SRC)) | $(OBJ)
	$$(CC) $$(ARCH_FLAGS) $$(CPPFLAGS) $(if $(filter $(1),$(VKMS_USERS)),-ISources/CSmafSys/include) $(if $(filter $(1),$(GST_USER_SRCS)),-Igst $$(GST_CFLAGS)) $$(CFLAGS) -MMD -MP -MF $(OBJ)/prog-$(basename $(notdir $(1))).d -MT $$@ \
		-o $$@ $(1) $(if $(filter $(1),$(VKMS_USERS)),$(VKMS_SRC)) $(if $(filter $(1),$(LIBSMAF_USERS)),$$(LIBSMAF_LDFLAGS)) $(if $(filter $(1),$(GST_USER_SRCS)),$$(GST_LIBS)) -pthread
endef
$(foreach s,$(PROG_SRCS),$(eval $(call program,$(s))))

# The GStreamer plugin, linked to libsmaf.
$(GST_PLUGIN): $(GST_SRCS) gst/gstsmafallocator.h gst/gstsmafallocator-private.h $(OUT)/libsmaf.so VERSION | $(OBJ)
	mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Igst $(GST_CFLAGS) $(LIB_CFLAGS) -DSMAF_VERSION='"$(LIBSMAF_VERSION)"' -shared \
		-Wl,-soname,libgstsmaf.so -Wl,-z,defs $(LIB_EXTRA_LDFLAGS) -o $@ $(GST_SRCS) \
		-L$(OUT) -lsmaf $(GST_RPATH) $(GST_LIBS)

# A registry listing the plugin with every installed one: what the VM tier
# runs pipelines with (GST_REGISTRY=... GST_REGISTRY_UPDATE=no), as a scan
# under the VM's emulated CPU takes minutes.
# Remade when a plugin is installed or removed (the directory changes).
$(GST_REGISTRY_FILE): $(GST_PLUGIN) $(wildcard $(shell pkg-config --variable=pluginsdir gstreamer-1.0 2>/dev/null))
	rm -f $@.tmp
	GST_REGISTRY=$@.tmp GST_PLUGIN_PATH=$(abspath $(@D)) gst-inspect-1.0 smafpool >/dev/null
	chmod 0644 $@.tmp
	mv $@.tmp $@

# The benchmark's floor: a minimal C CUSE server (libfuse3, like smafd).
$(OUT)/cuse-baseline: bench/cuse_baseline.c | $(OBJ)
	$(CC) $(CPPFLAGS) $(CFLAGS) $$(pkg-config --cflags fuse3) -o $@ $< $$(pkg-config --libs fuse3)

clean:
	rm -rf $(OUT)

# ---- install / uninstall ----------------------------------------------------
# Where things go. DESTDIR is put in front of every path (a staged install);
# the generated files (libsmaf.pc, smafd.service) name the paths without it.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
# smafd (the package puts it in /usr/sbin, smafctl in /usr/bin)
SBINDIR ?= $(BINDIR)
LIBDIR ?= $(PREFIX)/lib$(if $(ARCH_FLAGS),/i386-linux-gnu)
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man
# Where Debian's bash-completion, zsh and fish look for completions of
# packages (for /usr/local, zsh reads $(PREFIX)/share/zsh/site-functions).
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(if $(filter /usr,$(PREFIX)),/usr/share/zsh/vendor-completions,$(PREFIX)/share/zsh/site-functions)
FISHCOMPDIR ?= $(if $(filter /usr,$(PREFIX)),/usr/share/fish/vendor_completions.d,$(PREFIX)/share/fish/vendor_completions.d)
UDEVRULESDIR ?= /etc/udev/rules.d
SYSTEMDUNITDIR ?= /etc/systemd/system
DESTDIR ?=

# The Swift executables. install builds each with
#   $(SWIFT) build -c $(SWIFT_CONFIG) --scratch-path $(SWIFT_SCRATCH) $(SWIFT_BUILD_FLAGS) --product NAME
# unless its path is given (make install SMAFD_BIN=... SMAFCTL_BIN=...): a
# binary given on the command line or in the environment is installed as it is.
# The default flags make self-contained binaries: the Swift standard library
# and Foundation linked in (no Swift shared library, so the toolchain need
# not be installed where they run), no RUNPATH, and the relro/now hardening
# Debian gives C programs. They build in .build-release, apart from the
# dynamic builds in .build (the debug builds of the tests, scripts/serve),
# which would otherwise be rebuilt at every switch; debian/rules uses it too.
SWIFT ?= swift
SWIFT_CONFIG ?= release
SWIFT_SCRATCH ?= .build-release
SWIFT_BUILD_FLAGS ?= --static-swift-stdlib --disable-local-rpath \
	-Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now
SWIFT_BUILD = $(strip $(SWIFT) build -c $(SWIFT_CONFIG) --scratch-path $(SWIFT_SCRATCH) $(SWIFT_BUILD_FLAGS))
SMAFD_BIN ?= $(SWIFT_SCRATCH)/$(SWIFT_CONFIG)/smafd
SMAFCTL_BIN ?= $(SWIFT_SCRATCH)/$(SWIFT_CONFIG)/smafctl
SWIFT_PRODUCTS := $(if $(filter file,$(origin SMAFD_BIN)),smafd) $(if $(filter file,$(origin SMAFCTL_BIN)),smafctl)

INSTALL ?= install
HEADERS := lib/libsmaf.h Sources/CSmafABI/include/smaf.h Sources/CSmafABI/include/smaf_ext.h
UDEV_RULES := udev/70-smaf.rules udev/75-smaf-constraints.rules
MANPAGES := man/smafctl.1 man/libsmaf.3 man/smaf.4 man/smafd.8
man_path = $(MANDIR)/man$(subst .,,$(suffix $(1)))/$(notdir $(1))
# Completion scripts, generated by the binaries (swift-argument-parser); the
# bash one loses its "#!" line (bash-completion sources it, never runs it).
COMPLETIONS := $(foreach p,smafd smafctl,$(BASHCOMPDIR)/$(p) $(ZSHCOMPDIR)/_$(p) $(FISHCOMPDIR)/$(p).fish)

# The plugin goes where GStreamer looks (Debian: the multiarch gstreamer-1.0
# directory), its header beside GStreamer's.
GST_PLUGINDIR ?= $(LIBDIR)/gstreamer-1.0
GST_INCLUDEDIR ?= $(INCLUDEDIR)/gstreamer-1.0/gst/smaf
INSTALLED_GST := $(GST_PLUGINDIR)/libgstsmaf.so $(GST_INCLUDEDIR)/gstsmafallocator.h $(PKGCONFIGDIR)/gstreamer-smaf-1.0.pc

# Every file and link install creates, and nothing else: uninstall removes these.
INSTALLED_LIBS := $(LIBDIR)/libsmaf.so.$(LIBSMAF_VERSION) $(LIBDIR)/$(LIBSMAF_SONAME) $(LIBDIR)/libsmaf.so \
	$(LIBDIR)/libsmaf-preload.so $(PKGCONFIGDIR)/libsmaf.pc
INSTALLED := $(SBINDIR)/smafd $(BINDIR)/smafctl \
	$(INSTALLED_LIBS) \
	$(addprefix $(INCLUDEDIR)/,$(notdir $(HEADERS))) \
	$(addprefix $(UDEVRULESDIR)/,$(notdir $(UDEV_RULES))) \
	$(SYSTEMDUNITDIR)/smafd.service \
	$(foreach m,$(MANPAGES),$(call man_path,$(m))) \
	$(COMPLETIONS) \
	$(if $(WITH_GST),$(INSTALLED_GST))
ifeq ($(M32),1)
INSTALLED := $(INSTALLED_LIBS)
endif

swift-products:
	@$(foreach p,$(SWIFT_PRODUCTS),echo "$(SWIFT_BUILD) --product $(p)" && $(SWIFT_BUILD) --product $(p) &&) true

# A directory below $(PREFIX) is written as ${prefix}/... in libsmaf.pc.
pc_path = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

# Generated at every install, as they depend on the variables above.
$(OUT)/libsmaf.pc: lib/libsmaf.pc.in FORCE | $(OBJ)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(call pc_path,$(LIBDIR))|g' \
		-e 's|@INCLUDEDIR@|$(call pc_path,$(INCLUDEDIR))|g' \
		-e 's|@VERSION@|$(LIBSMAF_VERSION)|g' $< >$@

$(OUT)/gstreamer-smaf-1.0.pc: gst/gstreamer-smaf-1.0.pc.in FORCE | $(OBJ)
	sed -e '/^#/d' -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@INCLUDEDIR@|$(call pc_path,$(INCLUDEDIR))|g' \
		-e 's|@PLUGINDIR@|$(call pc_path,$(GST_PLUGINDIR))|g' -e 's|@VERSION@|$(LIBSMAF_VERSION)|g' $< >$@

$(OUT)/smafd.service: systemd/smafd.service.in FORCE | $(OBJ)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' $< >$@

FORCE:

# libsmaf with its links, the shim and libsmaf.pc: the part of install that
# M32=1 does alone.
define install_libs
$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR)
$(INSTALL) -m 0644 $(LIBSMAF) $(DESTDIR)$(LIBDIR)/libsmaf.so.$(LIBSMAF_VERSION)
ln -sfn libsmaf.so.$(LIBSMAF_VERSION) $(DESTDIR)$(LIBDIR)/$(LIBSMAF_SONAME)
ln -sfn $(LIBSMAF_SONAME) $(DESTDIR)$(LIBDIR)/libsmaf.so
$(INSTALL) -m 0644 $(PRELOAD) $(DESTDIR)$(LIBDIR)/libsmaf-preload.so
$(INSTALL) -m 0644 $(OUT)/libsmaf.pc $(DESTDIR)$(PKGCONFIGDIR)/libsmaf.pc
endef

ifeq ($(M32),1)
install: $(LIBSMAF) $(LIBSMAF_LINKS) $(PRELOAD) $(OUT)/libsmaf.pc
	$(install_libs)
ifeq ($(DESTDIR),)
	@$(refresh_ld)
endif
else
install: $(LIBSMAF) $(LIBSMAF_LINKS) $(PRELOAD) swift-products $(OUT)/libsmaf.pc $(OUT)/smafd.service \
	$(if $(WITH_GST),$(GST_PLUGIN) $(OUT)/gstreamer-smaf-1.0.pc)
	@for f in $(SMAFD_BIN) $(SMAFCTL_BIN); do \
		[ -f "$$f" ] && [ -x "$$f" ] || { echo "install: $$f is missing (build it, or give SMAFD_BIN=/SMAFCTL_BIN=)" >&2; exit 1; }; \
	done
	$(install_libs)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(addprefix $(DESTDIR)$(MANDIR)/man,1 3 4 8) $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	$(INSTALL) -m 0755 $(SMAFD_BIN) $(DESTDIR)$(SBINDIR)/smafd
	$(INSTALL) -m 0755 $(SMAFCTL_BIN) $(DESTDIR)$(BINDIR)/smafctl
	$(INSTALL) -m 0644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/
	$(INSTALL) -m 0644 $(UDEV_RULES) $(DESTDIR)$(UDEVRULESDIR)/
	$(INSTALL) -m 0644 $(OUT)/smafd.service $(DESTDIR)$(SYSTEMDUNITDIR)/smafd.service
	$(foreach m,$(MANPAGES),$(INSTALL) -m 0644 $(m) $(DESTDIR)$(call man_path,$(m)) &&) true
ifneq ($(WITH_GST),)
	$(INSTALL) -d $(DESTDIR)$(GST_PLUGINDIR) $(DESTDIR)$(GST_INCLUDEDIR)
	$(INSTALL) -m 0644 $(GST_PLUGIN) $(DESTDIR)$(GST_PLUGINDIR)/libgstsmaf.so
	$(INSTALL) -m 0644 gst/gstsmafallocator.h $(DESTDIR)$(GST_INCLUDEDIR)/gstsmafallocator.h
	$(INSTALL) -m 0644 $(OUT)/gstreamer-smaf-1.0.pc $(DESTDIR)$(PKGCONFIGDIR)/gstreamer-smaf-1.0.pc
endif
	@set -e; for p in $(SMAFD_BIN) $(SMAFCTL_BIN); do n=$$(basename $$p); \
		$$p --generate-completion-script bash >$(DESTDIR)$(BASHCOMPDIR)/$$n; \
		sed -i '1{/^#!/d}' $(DESTDIR)$(BASHCOMPDIR)/$$n; \
		$$p --generate-completion-script zsh >$(DESTDIR)$(ZSHCOMPDIR)/_$$n; \
		$$p --generate-completion-script fish >$(DESTDIR)$(FISHCOMPDIR)/$$n.fish; \
		chmod 0644 $(DESTDIR)$(BASHCOMPDIR)/$$n $(DESTDIR)$(ZSHCOMPDIR)/_$$n $(DESTDIR)$(FISHCOMPDIR)/$$n.fish; \
	done
ifeq ($(DESTDIR),)
	@$(add_group)
	@$(refresh_ld)
	@$(refresh_udev)
endif
endif

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
ifeq ($(DESTDIR),)
	@$(refresh_ld)
ifneq ($(M32),1)
	@$(refresh_udev)
endif
endif

# After a real (DESTDIR-less) install as root: the group the udev rule names
# (uninstall keeps it). After install and uninstall: the linker cache and
# (not for M32=1) udev's rules; failures of these two are reported and ignored.
add_group = if [ "$$(id -u)" = 0 ] && ! getent group smaf >/dev/null; then \
	echo "groupadd --system smaf"; PATH="$$PATH:/usr/sbin:/sbin" groupadd --system smaf; \
	fi
refresh_ld = if [ "$$(id -u)" = 0 ]; then \
	PATH="$$PATH:/usr/sbin:/sbin"; \
	if command -v ldconfig >/dev/null; then \
		echo ldconfig; ldconfig || echo "ldconfig failed (ignored)" >&2; \
	fi; \
	fi
refresh_udev = if [ "$$(id -u)" = 0 ]; then \
	PATH="$$PATH:/usr/sbin:/sbin"; \
	if command -v udevadm >/dev/null; then \
		echo "udevadm control --reload"; \
		udevadm control --reload || echo "udevadm control --reload failed (ignored: is udev running?)" >&2; \
	fi; \
	fi

-include $(wildcard $(OBJ)/*.d)
