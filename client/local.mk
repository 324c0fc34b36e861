# cwtimectl: libc, json-c and src/common only. Everything but main() is in
# libcwtclient.a, so the unit tests link the very code the program runs.
noinst_LIBRARIES += libcwtclient.a
libcwtclient_a_SOURCES = \
	%D%/cmds.c %D%/cmds.h \
	%D%/conn.c %D%/conn.h \
	%D%/docgen.c %D%/docgen.h \
	%D%/output.c %D%/output.h

bin_PROGRAMS += cwtimectl
cwtimectl_SOURCES = %D%/cwtimectl.c
# A static PIE when configure could link one (--enable-static-client): no
# dynamic loader at each start.
cwtimectl_LDFLAGS = $(AM_LDFLAGS) $(CWT_CLIENT_LDFLAGS)
cwtimectl_LDADD = libcwtclient.a libcwtcommon.a $(JSONC_LIBS)

# Shell completions come from the verb table: the program prints them
# (cwtimectl --completions SHELL), so they cannot drift from the parser.
CWT_COMPLETIONS = completions/cwtimectl completions/_cwtimectl \
	completions/cwtimectl.fish
bashcompletion_DATA += completions/cwtimectl
zshcompletion_DATA += completions/_cwtimectl
fishcompletion_DATA += completions/cwtimectl.fish
CLEANFILES += $(CWT_COMPLETIONS)
completions/cwtimectl: cwtimectl$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) completions && \
	./cwtimectl$(EXEEXT) --completions bash > $@.tmp && mv -f $@.tmp $@
completions/_cwtimectl: cwtimectl$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) completions && \
	./cwtimectl$(EXEEXT) --completions zsh > $@.tmp && mv -f $@.tmp $@
completions/cwtimectl.fish: cwtimectl$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) completions && \
	./cwtimectl$(EXEEXT) --completions fish > $@.tmp && mv -f $@.tmp $@

# cwtimectl.1: the hand-written doc/cwtimectl.1.scd.in with the COMMANDS
# section (cwtimectl --man-commands) put in place of its @COMMANDS@ line.
# The page ships in the tarball (dist_man_MANS), which builds without
# scdoc; it is written into the build directory only.
dist_man_MANS += doc/cwtimectl.1
MAINTAINERCLEANFILES += doc/cwtimectl.1
EXTRA_DIST += doc/cwtimectl.1.scd.in
CLEANFILES += doc/cwtimectl.1.cmds doc/cwtimectl.1.scd doc/cwtimectl.1.tmp
if HAVE_SCDOC
# It depends on the sources of the verb table, not on the binary: a
# tarball's page is newer than those, so a build from it (distcheck's
# included) never regenerates it into the build directory.
doc/cwtimectl.1: $(srcdir)/doc/cwtimectl.1.scd.in $(srcdir)/client/cmds.c \
    $(srcdir)/client/docgen.c
	$(AM_V_GEN)$(MKDIR_P) doc && \
	$(MAKE) $(AM_MAKEFLAGS) cwtimectl$(EXEEXT) && \
	./cwtimectl$(EXEEXT) --man-commands > $@.cmds && \
	$(AWK) -v cmds=$@.cmds \
	    '$$0 == "@COMMANDS@" { while ((getline l < cmds) > 0) print l; next } \
	     { gsub(/@VERSION[@]/, "$(PACKAGE_VERSION)"); print }' \
	    $(srcdir)/doc/cwtimectl.1.scd.in > $@.scd && \
	$(SCDOC) < $@.scd > $@.tmp && rm -f $@.cmds $@.scd && mv -f $@.tmp $@
endif
libcwtclient_a_SOURCES += %D%/print-entries.c %D%/print-entries.h
libcwtclient_a_SOURCES += %D%/print-timers.c %D%/print-timers.h
libcwtclient_a_SOURCES += %D%/textbuf.c %D%/textbuf.h
