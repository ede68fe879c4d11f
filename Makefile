# wmieventd - a WMI-compatible event routing daemon for Linux.
#
#   make            libwmievent (shared + static), wmieventd, wmieventd-host,
#                   wmieventctl, plugins
#   make deps       install the Debian packages the build needs (apt-get)
#   make run        deps + build + wmieventd -d on conf/, state under ./var
#   make check      deps + no function of src/ over 100 lines, build + unit
#                   tests (with the fuzz corpora and the check that
#                   libwmievent exports its documented API) and integration
#                   tests, then the same again under ASan+UBSan (build-san/)
#   make bench      benchmarks (tests/bench), figures printed
#   make install    PREFIX=/usr/local DESTDIR=
#
# SAN=1 builds into build-san/ with AddressSanitizer and UBSan.

VERSION    = 0.1.0
SOVERSION  = 0
PREFIX    ?= /usr/local
DESTDIR   ?=
BINDIR     = $(PREFIX)/bin
SBINDIR    = $(PREFIX)/sbin
LIBDIR     = $(PREFIX)/lib
INCDIR     = $(PREFIX)/include
PLUGINDIR  = $(LIBDIR)/wmievent/plugins
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
MANDIR     = $(PREFIX)/share/man
DATADIR    = $(PREFIX)/share/wmievent

CC        ?= cc
SAN       ?=
B         ?= build$(if $(SAN),-san)

# One strict warning list for everything we compile.
WARNINGS = -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wpointer-arith -Wwrite-strings -Wformat=2 \
           -Wundef -Wvla -Wcast-align -Wnull-dereference -Wdouble-promotion \
           -Wold-style-definition -Wmissing-declarations -Wredundant-decls \
           -Wimplicit-fallthrough

DEPS_PKGS = libuv1 jansson libssl libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags libuv jansson 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs libuv jansson 2>/dev/null)

OPT       ?= -O2 -g
SANITIZE   = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SANFLAGS   = $(if $(SAN),$(SANITIZE))
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(OPT) $(WARNINGS) $(SANFLAGS) -fPIC \
             -fvisibility=hidden -Iinclude -Isrc $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

LIB_SRC    = $(wildcard src/lib/*.c)
DAEMON_SRC = $(wildcard src/daemon/*.c src/daemon/*/*.c)
CTL_SRC    = $(wildcard src/ctl/*.c)
HOST_SRC   = $(wildcard src/host/*.c)
PLUGIN_SRC = $(wildcard src/consumers/*.c)
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
TPLUG_SRC  = $(wildcard tests/plugins/*.c)
BENCH_SRC  = $(wildcard tests/bench/*.c)

LIB_OBJ    = $(LIB_SRC:%.c=$(B)/obj/%.o)
DAEMON_OBJ = $(DAEMON_SRC:%.c=$(B)/obj/%.o)
CTL_OBJ    = $(CTL_SRC:%.c=$(B)/obj/%.o)
# The host reuses the daemon's plugin loader, logging and wire framing.
HOST_OBJ   = $(HOST_SRC:%.c=$(B)/obj/%.o) \
             $(addprefix $(B)/obj/src/daemon/,log.o plugins/loader.o plugins/hostproto.o)

SHLIB      = $(B)/lib/libwmievent.so.$(VERSION)
SHLIB_SO   = $(B)/lib/libwmievent.so.$(SOVERSION)
SHLIB_LINK = $(B)/lib/libwmievent.so
STLIB      = $(B)/lib/libwmievent.a
DAEMON     = $(B)/bin/wmieventd
CTL        = $(B)/bin/wmieventctl
HOST       = $(B)/bin/wmieventd-host
PLUGINS    = $(PLUGIN_SRC:src/consumers/%.c=$(B)/plugins/%.so)
TPLUGINS   = $(TPLUG_SRC:tests/plugins/%.c=$(B)/tests/plugins/%.so)
UNITS      = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%)
BENCHES    = $(BENCH_SRC:tests/bench/%.c=$(B)/tests/bench/%)

# Binaries find libwmievent next to them, in the build tree and once installed.
RPATH = -Wl,-rpath,'$$ORIGIN/../lib'
# Plugins find it from build/plugins, build/tests/plugins and, installed,
# $(LIBDIR)/wmievent/plugins, even in a host that linked it statically.
PLUGIN_RPATH = -Wl,-rpath,'$$ORIGIN/../lib:$$ORIGIN/../../lib:$$ORIGIN/../..'

.PHONY: all deps run check check-build check-san unit integration bench fuzz install \
        uninstall clean distclean

all: $(SHLIB_LINK) $(STLIB) $(DAEMON) $(CTL) $(HOST) $(PLUGINS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(SHLIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libwmievent.so.$(SOVERSION) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lm

$(SHLIB_SO) $(SHLIB_LINK): $(SHLIB)
	ln -sf libwmievent.so.$(VERSION) $(SHLIB_SO)
	ln -sf libwmievent.so.$(VERSION) $(SHLIB_LINK)

$(STLIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(DAEMON): $(DAEMON_OBJ) $(SHLIB_LINK)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) $(RPATH) -o $@ $(DAEMON_OBJ) -L$(B)/lib -lwmievent $(PKG_LIBS) -ldl -lpthread -lm

$(CTL): $(CTL_OBJ) $(SHLIB_LINK)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) $(RPATH) -o $@ $(CTL_OBJ) -L$(B)/lib -lwmievent $(PKG_LIBS) -lpthread -lm

$(HOST): $(HOST_OBJ) $(SHLIB_LINK)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) $(RPATH) -o $@ $(HOST_OBJ) -L$(B)/lib -lwmievent $(PKG_LIBS) -ldl -lpthread -lm

# A standard consumer that needs a library of its own names it in
# PLUGIN_LIBS_<name> (and its package in APT_PKGS).
PLUGIN_LIBS_smtp = $(shell pkg-config --libs libcurl)
$(B)/plugins/%.so: $(B)/obj/src/consumers/%.o $(SHLIB_LINK)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS_ALL) $(PLUGIN_RPATH) -o $@ $< -L$(B)/lib -lwmievent $(PLUGIN_LIBS_$*) $(PKG_LIBS) -lpthread

$(B)/tests/plugins/%.so: $(B)/obj/tests/plugins/%.o $(SHLIB_LINK)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS_ALL) $(PLUGIN_RPATH) -o $@ $< -L$(B)/lib -lwmievent $(PKG_LIBS) -lpthread

# Unit tests link the static library so that they can reach internal helpers.
# A test that compiles a consumer in (test_smtp) links that consumer's
# libraries too (UNIT_LIBS_<test>).
UNIT_LIBS_test_smtp = $(PLUGIN_LIBS_smtp)
$(B)/tests/unit/%: $(B)/obj/tests/unit/%.o $(STLIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(STLIB) $(PKG_LIBS) $(UNIT_LIBS_$*) -lcmocka -lm

# Tests of daemon subsystems (names test_daemon_*) also link the daemon's
# objects, all but main.o.
DAEMON_LIB_OBJ = $(filter-out %/main.o,$(DAEMON_OBJ))
$(B)/tests/unit/test_daemon_%: $(B)/obj/tests/unit/test_daemon_%.o $(DAEMON_LIB_OBJ) $(STLIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(DAEMON_LIB_OBJ) $(STLIB) $(PKG_LIBS) -lcmocka -ldl -lpthread -lm

$(B)/tests/bench/%: $(B)/obj/tests/bench/%.o $(STLIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(STLIB) $(PKG_LIBS) -lpthread -lm

# Benchmarks of daemon subsystems (names bench_daemon_*) link the daemon's
# objects too, as the test_daemon_* tests do.
$(B)/tests/bench/bench_daemon_%: $(B)/obj/tests/bench/bench_daemon_%.o $(DAEMON_LIB_OBJ) $(STLIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(DAEMON_LIB_OBJ) $(STLIB) $(PKG_LIBS) -ldl -lpthread -lm

# ---------------------------------------------------------------------------
# deps: the Debian packages we build and test with.  Installs only what is
# missing, so it is cheap to run before every build.
APT_PKGS = build-essential pkg-config libuv1-dev libjansson-dev libssl-dev libcmocka-dev python3
# The standard consumers' libraries, and the real programs their tests run.
APT_PKGS += libsystemd-dev systemd
APT_PKGS += libcurl4-openssl-dev
APT_PKGS += python3-aiosmtpd

deps:
	@missing=""; for p in $(APT_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# ---------------------------------------------------------------------------
# run: the daemon in the foreground on the example config, state in ./var.
run: deps
	$(MAKE) all
	@mkdir -p var/log var/run var/state
	$(DAEMON) -d -f conf/wmieventd.json

# ---------------------------------------------------------------------------
# check: unit + integration tests, plain and then with sanitizers.
check: deps long-functions
	$(MAKE) check-build
	$(MAKE) SAN=1 check-build
	@echo "make check: all test suites passed (plain and ASan+UBSan)"

check-build: all $(UNITS) $(TPLUGINS)
	@$(MAKE) --no-print-directory unit integration

# After the unit tests, the library's exported symbols are compared with
# the API its headers declare and document (tests/symbols/check_exports.py).
unit: $(UNITS) $(PLUGINS) $(TPLUGINS) $(SHLIB_LINK)
	@set -e; for t in $(UNITS); do echo "== $$t"; \
	    (cd tests/unit && WMI_PLUGIN_DIR=$(abspath $(B)/plugins) WMI_TEST_PLUGIN_DIR=$(abspath $(B)/tests/plugins) \
	     WMI_BUILD_DIR=$(abspath $(B)) ../../$$t); done
	@echo "== exported symbols"; python3 tests/symbols/check_exports.py $(SHLIB_LINK) include

# Integration tests run INTEGRATION_JOBS at a time (those marked @serial
# alone); INTEGRATION_JOBS=1 runs them one by one, in order.
INTEGRATION_JOBS ?= 2
integration: all $(TPLUGINS)
	@B=$(B) SAN=$(SAN) python3 tests/integration/run.py -j $(INTEGRATION_JOBS)

# long-functions: the C functions of src/ longer than 100 lines (see
# tests/tools/long_functions.py); fails when there are any.  Its own tests
# run first.  Part of check.
.PHONY: long-functions
long-functions:
	@python3 tests/tools/test_long_functions.py
	@python3 tests/tools/long_functions.py src

bench: deps
	$(MAKE) all $(BENCHES)
	@B=$(B) sh tests/bench/run.sh

# ---------------------------------------------------------------------------
# fuzz: libFuzzer targets (tests/fuzz/fuzz_*.c, see tests/fuzz/README.md),
# built with clang into build-fuzz/ and run FUZZ_SECONDS each on a scratch
# copy of their seeds.  Not part of check.
#   make fuzz FUZZ_SECONDS=60 [FUZZ_TARGETS="fuzz_wql fuzz_path"] [FUZZ_ARGS=-jobs=2]
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_B        = build-fuzz
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE -O1 -g $(filter-out -Werror,$(WARNINGS)) $(FUZZ_SAN) \
                -Iinclude -Isrc $(PKG_CFLAGS)
FUZZ_TARGETS ?= $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_LIB_OBJ  = $(LIB_SRC:%.c=$(FUZZ_B)/obj/%.o)
.SECONDARY: $(FUZZ_LIB_OBJ) $(FUZZ_TARGETS:%=$(FUZZ_B)/obj/tests/fuzz/%.o)

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_B)/fuzz_%: $(FUZZ_B)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -lm

# fuzz_sddl tests the daemon's SDDL module: its object is linked in too.
FUZZ_SDDL_OBJ = $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(filter %/security.c,$(DAEMON_SRC)))
.SECONDARY: $(FUZZ_SDDL_OBJ)
$(FUZZ_B)/fuzz_sddl: $(FUZZ_SDDL_OBJ)

fuzz: $(FUZZ_TARGETS:%=$(FUZZ_B)/%)
	@rc=0; for t in $(FUZZ_TARGETS); do \
	    d=$(FUZZ_B)/run/$$t; rm -rf $$d; mkdir -p $$d/corpus; \
	    python3 tests/fuzz/seeds.py $$t $$d/corpus || exit 1; \
	    dict=; test ! -f tests/fuzz/$$t.dict || dict=-dict=tests/fuzz/$$t.dict; \
	    echo "== $$t: $(FUZZ_SECONDS) s; log, corpus and crashes in $$d"; \
	    if $(FUZZ_B)/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	        -artifact_prefix=$$d/ $$dict $(FUZZ_ARGS) $$d/corpus >$$d/log 2>&1; then \
	        grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss)' $$d/log; \
	    else tail -n 60 $$d/log; rc=1; fi; \
	done; exit $$rc

# ---------------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(INCDIR)/wmievent \
	    $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(SYSCONFDIR)/wmieventd/conf.d \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(DAEMON) $(DESTDIR)$(SBINDIR)/wmieventd
	@# wmieventd finds its provider host next to its own executable.
	install -m 0755 $(HOST) $(DESTDIR)$(SBINDIR)/wmieventd-host
	install -m 0755 $(CTL) $(DESTDIR)$(BINDIR)/wmieventctl
	install -m 0755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf libwmievent.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libwmievent.so.$(SOVERSION)
	ln -sf libwmievent.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libwmievent.so
	install -m 0644 $(STLIB) $(DESTDIR)$(LIBDIR)/
	install -m 0755 $(PLUGINS) $(DESTDIR)$(PLUGINDIR)/
	install -m 0644 include/wmievent.h $(DESTDIR)$(INCDIR)/
	install -m 0644 include/wmievent/*.h $(DESTDIR)$(INCDIR)/wmievent/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCDIR@|$(INCDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@PLUGINDIR@|$(PLUGINDIR)|g' \
	    contrib/wmievent.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/wmievent.pc
	sed -e 's|@PLUGINDIR@|$(PLUGINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    contrib/wmieventd.json.in > $(DESTDIR)$(SYSCONFDIR)/wmieventd/wmieventd.json.example
	@# An administrator's config is never overwritten; a first install gets one.
	test -e $(DESTDIR)$(SYSCONFDIR)/wmieventd/wmieventd.json || \
	    cp $(DESTDIR)$(SYSCONFDIR)/wmieventd/wmieventd.json.example $(DESTDIR)$(SYSCONFDIR)/wmieventd/wmieventd.json
	@# The example objects log under /var/log/wmieventd (LogsDirectory= of the unit).
	for f in conf/conf.d/*.json; do \
	    test -e $(DESTDIR)$(SYSCONFDIR)/wmieventd/conf.d/$$(basename $$f) || \
	    sed -e 's|"var/log/|"/var/log/wmieventd/|g' $$f > $(DESTDIR)$(SYSCONFDIR)/wmieventd/conf.d/$$(basename $$f); \
	done
	install -m 0644 man/wmieventctl.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 man/wmievent-plugin.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 0644 man/wmieventd.json.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/wmieventd.8 $(DESTDIR)$(MANDIR)/man8/

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/wmieventd $(DESTDIR)$(SBINDIR)/wmieventd-host $(DESTDIR)$(BINDIR)/wmieventctl \
	    $(DESTDIR)$(LIBDIR)/libwmievent.* $(DESTDIR)$(LIBDIR)/pkgconfig/wmievent.pc
	rm -rf $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(INCDIR)/wmievent $(DESTDIR)$(INCDIR)/wmievent.h

clean:
	rm -rf build build-san build-fuzz

distclean: clean
	rm -rf var

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
-include $(if $(filter fuzz build-fuzz/%,$(MAKECMDGOALS)),$(shell find $(FUZZ_B)/obj -name '*.d' 2>/dev/null))
