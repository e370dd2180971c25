# make install / make uninstall: the programs, the systemd units, sysusers.d, tmpfiles.d, the journald message
# catalog, example configurations and the documentation. Included by the top Makefile.
#
#   make install [DESTDIR=/stage] [PREFIX=/usr] [BINDIR=...] [SYSCONFDIR=/etc]
#                [SYSTEMDUNITDIR=...] [SYSUSERSDIR=...] [TMPFILESDIR=...] [CATALOGDIR=...] [DOCDIR=...]
#
# With PREFIX=/usr (the default) the systemd directories are the ones systemd.pc names (pkg-config, package
# `systemd`), or /usr/lib/... without it; with another prefix they go under it (PREFIX/lib/systemd/system and so
# on: /usr/local/lib/... is searched by systemd too). Existing configuration files are never overwritten. Without
# DESTDIR, install and uninstall also run systemd-sysusers, systemd-tmpfiles, journalctl --update-catalog and
# systemctl daemon-reload (each only where it can: a missing systemd is not an error).

PREFIX     ?= /usr
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
DOCDIR     ?= $(PREFIX)/share/doc/driftwatch
INSTALL    ?= install

# Lazy (=): pkg-config runs only when an install target is made.
dw_systemd_var = $(or $(if $(filter /usr,$(PREFIX)),$(shell $(PKG_CONFIG) --variable=$(1) systemd 2>/dev/null)),$(2))
SYSTEMDUNITDIR ?= $(call dw_systemd_var,systemdsystemunitdir,$(PREFIX)/lib/systemd/system)
SYSUSERSDIR    ?= $(call dw_systemd_var,sysusersdir,$(PREFIX)/lib/sysusers.d)
TMPFILESDIR    ?= $(call dw_systemd_var,tmpfilesdir,$(PREFIX)/lib/tmpfiles.d)
CATALOGDIR     ?= $(call dw_systemd_var,catalogdir,$(PREFIX)/lib/systemd/catalog)

DW_INST_BINS    = $(CLI) $(VERIFIER) $(MONITOR)
DW_INST_UNITS   = driftwatch-monitor.service driftwatch-verifier.service
DW_INST_DOCS    = $(wildcard docs/*.md)
# example configuration: installed name, source (a missing source is skipped)
DW_INST_CONFIGS = monitor.conf:monitor/monitor.conf verifier.conf:systemd/verifier.conf
# The paths written in the units, the catalog and tmpfiles.d are the defaults; this puts the real ones.
DW_INST_SED     = -e 's|/usr/bin/driftwatch|$(BINDIR)/driftwatch|g' -e 's|/etc/driftwatch|$(SYSCONFDIR)/driftwatch|g' \
		  -e 's|/usr/share/doc/driftwatch|$(DOCDIR)|g'

.PHONY: install uninstall

install: all
	$(INSTALL) -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(CATALOGDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/driftwatch
	$(INSTALL) -m 0755 $(DW_INST_BINS) $(DESTDIR)$(BINDIR)/
	@set -e; for u in $(DW_INST_UNITS); do \
		echo "  UNIT   $(DESTDIR)$(SYSTEMDUNITDIR)/$$u"; \
		sed $(DW_INST_SED) systemd/$$u >$(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp; \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp; \
		mv -f $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp $(DESTDIR)$(SYSTEMDUNITDIR)/$$u; \
	done
	$(INSTALL) -m 0644 systemd/sysusers.d/driftwatch.conf $(DESTDIR)$(SYSUSERSDIR)/driftwatch.conf
	sed $(DW_INST_SED) systemd/tmpfiles.d/driftwatch.conf >$(DESTDIR)$(TMPFILESDIR)/driftwatch.conf
	sed $(DW_INST_SED) systemd/driftwatch.catalog >$(DESTDIR)$(CATALOGDIR)/driftwatch.catalog
	chmod 0644 $(DESTDIR)$(TMPFILESDIR)/driftwatch.conf $(DESTDIR)$(CATALOGDIR)/driftwatch.catalog
	$(if $(DW_INST_DOCS),$(INSTALL) -m 0644 $(DW_INST_DOCS) $(DESTDIR)$(DOCDIR)/)
	@set -e; for c in $(DW_INST_CONFIGS); do \
		name=$${c%%:*} src=$${c#*:} dst=$(DESTDIR)$(SYSCONFDIR)/driftwatch/$${c%%:*}; \
		if [ ! -f "$$src" ]; then echo "  CONFIG $$dst: skipped ($$src does not exist)"; \
		elif [ -e "$$dst" ]; then echo "  CONFIG $$dst: exists, kept (the example is $(DOCDIR)/examples/$$name)"; \
		else echo "  CONFIG $$dst"; $(INSTALL) -m 0644 "$$src" "$$dst"; fi; \
		if [ -f "$$src" ]; then $(INSTALL) -D -m 0644 "$$src" $(DESTDIR)$(DOCDIR)/examples/$$name; fi; \
	done
ifeq ($(DESTDIR),)
	-command -v systemd-sysusers >/dev/null && systemd-sysusers $(SYSUSERSDIR)/driftwatch.conf
	-command -v systemd-tmpfiles >/dev/null && systemd-tmpfiles --create $(TMPFILESDIR)/driftwatch.conf
	-command -v journalctl >/dev/null && journalctl --update-catalog
	@if [ -d /run/systemd/system ]; then echo systemctl daemon-reload; systemctl daemon-reload || true; fi
	@echo "installed; start with: systemctl enable --now driftwatch-monitor.service (or driftwatch-verifier.service)"
endif

# Configuration files are removed only when they are still the installed example; edited ones are kept.
uninstall:
	@set -e; for c in $(DW_INST_CONFIGS); do \
		name=$${c%%:*} dst=$(DESTDIR)$(SYSCONFDIR)/driftwatch/$${c%%:*}; \
		ex=$(DESTDIR)$(DOCDIR)/examples/$${c%%:*}; \
		if [ -f "$$dst" ] && [ -f "$$ex" ] && cmp -s "$$dst" "$$ex"; then rm -f "$$dst"; \
		elif [ -e "$$dst" ]; then echo "  CONFIG $$dst: changed, kept"; fi; \
	done
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(DW_INST_BINS)))
	rm -f $(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(DW_INST_UNITS))
	rm -f $(DESTDIR)$(SYSUSERSDIR)/driftwatch.conf $(DESTDIR)$(TMPFILESDIR)/driftwatch.conf \
		$(DESTDIR)$(CATALOGDIR)/driftwatch.catalog
	rm -rf $(DESTDIR)$(DOCDIR)
	rmdir $(DESTDIR)$(SYSCONFDIR)/driftwatch 2>/dev/null || true
ifeq ($(DESTDIR),)
	-command -v journalctl >/dev/null && journalctl --update-catalog
	@if [ -d /run/systemd/system ]; then echo systemctl daemon-reload; systemctl daemon-reload || true; fi
endif
