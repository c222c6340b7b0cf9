# The C side of smaf-cuse (GNU make; scripts/build-c runs `make -s all`).
# Everything goes to .build/c/:
#   libsmaf.so.0.1.0, libsmaf.so.0, libsmaf.so   the libsmaf API (lib/libsmaf.h)
#   libsmaf-preload.so                           LD_PRELOAD shim for raw ioctl() users
#   one program per tools/*.c, examples/*.c and Tests/vm/*.c, named after the source file,
#                                                underscores turned into dashes
# A program whose source includes "libsmaf.h" is linked with -lsmaf and an
# $ORIGIN rpath, so it finds libsmaf.so.0 in its own directory; the others
# use nothing but libc and the uapi header, like any client of the driver.
#
#   make [all]    build (the default)
#   make clean    remove .build/c

OUT := .build/c
OBJ := $(OUT)/obj

ifeq ($(origin CC),default)
CC := gcc
endif
CFLAGS := -O2 -g -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE
CPPFLAGS := -ISources/CSmafABI/include -Ilib
LIB_CFLAGS := $(CFLAGS) -fPIC
LIBSMAF_LDFLAGS = -L$(OUT) -lsmaf -Wl,-rpath,'$$ORIGIN'

LIBSMAF_SONAME := libsmaf.so.0
LIBSMAF := $(OUT)/libsmaf.so.0.1.0
LIBSMAF_LINKS := $(OUT)/libsmaf.so.0 $(OUT)/libsmaf.so
PRELOAD := $(OUT)/libsmaf-preload.so

PROG_SRCS := $(wildcard tools/*.c examples/*.c Tests/vm/*.c)
prog_name = $(OUT)/$(subst _,-,$(basename $(notdir $(1))))
PROGS := $(foreach s,$(PROG_SRCS),$(call prog_name,$(s)))
LIBSMAF_USERS := $(if $(PROG_SRCS),$(shell grep -l 'include[[:space:]]*["<]libsmaf\.h[">]' $(PROG_SRCS)))

.PHONY: all clean
.DELETE_ON_ERROR:

all: $(LIBSMAF) $(LIBSMAF_LINKS) $(PRELOAD) $(PROGS)

$(OBJ):
	mkdir -p $@

$(OBJ)/%.o: lib/%.c | $(OBJ)
	$(CC) $(CPPFLAGS) $(LIB_CFLAGS) -MMD -MP -c -o $@ $<

# The handoff functions must stay interposable (see lib/smaf_handoff.h): each
# library must reach them through a relocation, never by a local call.
check_interposable = readelf -rW $@ | grep -q 'smaf__handoff_ioctl' && \
	readelf -rW $@ | grep -q 'smaf__handoff_disconnect' || \
	{ echo "$@: calls to smaf__handoff_* are bound locally; the libraries would not share one channel table" >&2; \
	  rm -f $@; exit 1; }

$(LIBSMAF): $(OBJ)/libsmaf.o $(OBJ)/smaf_handoff.o
	$(CC) -shared -Wl,-soname,$(LIBSMAF_SONAME) -Wl,-z,defs -o $@ $^ -pthread
	@$(check_interposable)

$(OUT)/libsmaf.so.0: $(LIBSMAF)
	ln -sfn $(notdir $<) $@

$(OUT)/libsmaf.so: $(OUT)/libsmaf.so.0
	ln -sfn $(notdir $<) $@

$(PRELOAD): $(OBJ)/libsmaf-preload.o $(OBJ)/smaf_handoff.o
	$(CC) -shared -Wl,-soname,libsmaf-preload.so -Wl,-z,defs -o $@ $^ -pthread
	@readelf -rW $@ | grep -q 'smaf__handoff_ioctl' || \
	{ echo "$@: ioctl() calls smaf__handoff_ioctl locally" >&2; rm -f $@; exit 1; }

# One rule per program: $(1) is its source.
define program
$(call prog_name,$(1)): $(1) $(if $(filter $(1),$(LIBSMAF_USERS)),$(OUT)/libsmaf.so) | $(OBJ)
	$$(CC) $$(CPPFLAGS) $$(CFLAGS) -MMD -MP -MF $(OBJ)/prog-$(basename $(notdir $(1))).d -MT $$@ \
		-o $$@ $(1) $(if $(filter $(1),$(LIBSMAF_USERS)),$$(LIBSMAF_LDFLAGS)) -pthread
endef
$(foreach s,$(PROG_SRCS),$(eval $(call program,$(s))))

clean:
	rm -rf $(OUT)

-include $(wildcard $(OBJ)/*.d)
