# Man pages from scdoc (STYLE.md section 10). The generated pages are in
# dist_man_MANS, so the tarball carries them and builds without scdoc; they
# are written into the build directory only (make finds the tarball's copy
# in $(srcdir) through VPATH, newer than its .scd, and leaves it alone).
# cwtimectl.1 comes from client/local.mk. To add a page NAME.S, append the
# three list lines and a rule like these.
CWT_SCDOC = $(AM_V_GEN)$(MKDIR_P) $(@D) && $(SCDOC)

dist_man_MANS += %D%/cwtimed.1 %D%/cwtimed.conf.5 %D%/cwtimed-ipc.7
MAINTAINERCLEANFILES += %D%/cwtimed.1 %D%/cwtimed.conf.5 %D%/cwtimed-ipc.7
EXTRA_DIST += %D%/cwtimed.1.scd %D%/cwtimed.conf.5.scd %D%/cwtimed-ipc.7.scd
if HAVE_SCDOC
%D%/cwtimed.1: %D%/cwtimed.1.scd
	$(CWT_SCDOC) < $(srcdir)/%D%/cwtimed.1.scd > $@.tmp && mv -f $@.tmp $@
%D%/cwtimed.conf.5: %D%/cwtimed.conf.5.scd
	$(CWT_SCDOC) < $(srcdir)/%D%/cwtimed.conf.5.scd > $@.tmp && mv -f $@.tmp $@
%D%/cwtimed-ipc.7: %D%/cwtimed-ipc.7.scd
	$(CWT_SCDOC) < $(srcdir)/%D%/cwtimed-ipc.7.scd > $@.tmp && mv -f $@.tmp $@
endif

# doc/errors.md is generated from src/common/errcode.h by tools/gen-errors
# and committed; tests/check-errors-doc.sh fails when it is stale. A normal
# build never writes into $(srcdir): `make update-docs` does, on request.
noinst_PROGRAMS += tools/gen-errors
tools_gen_errors_SOURCES = tools/gen-errors.c
tools_gen_errors_LDADD = libcwtcommon.a
dist_doc_DATA += %D%/errors.md
update-docs: tools/gen-errors$(EXEEXT)
	$(AM_V_GEN)./tools/gen-errors$(EXEEXT) > $(srcdir)/%D%/errors.md.tmp && \
	mv -f $(srcdir)/%D%/errors.md.tmp $(srcdir)/%D%/errors.md && \
	echo "updated $(srcdir)/%D%/errors.md"
.PHONY: update-docs

# Example files (the credentials one holds placeholders only).
examplesdir = $(docdir)/examples
dist_examples_DATA = %D%/examples/cwtimed.conf %D%/examples/credentials
EXTRA_DIST += %D%/records.md
dist_doc_DATA += %D%/protocol.md
# Session handling (logind) and the by-hand release checks.
EXTRA_DIST += %D%/session.md %D%/release-checklist.md
dist_doc_DATA += %D%/journal-format.md
dist_examples_DATA += %D%/examples/waybar.json %D%/examples/waybar-style.css %D%/examples/i3blocks.conf %D%/examples/polybar.ini %D%/examples/tmux.conf %D%/examples/sway-i3.conf %D%/examples/gnome-kde-shortcuts.md %D%/examples/cwtimectl-pick.sh
EXTRA_DIST += %D%/design.md %D%/benchmarks.md %D%/reliability.md
