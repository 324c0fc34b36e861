# systemd user units (RELIABILITY.md 6.5, STYLE.md section 10). The service
# is generated at make time with sed, not by AC_CONFIG_FILES: configure's
# @bindir@ would still contain ${exec_prefix}. Installed into
# $(systemduserunitdir), which defaults to $(prefix)/lib/systemd/user so
# that distcheck needs no flags; --with-systemduserunitdir=no skips them.
%D%/cwtimed.service: %D%/cwtimed.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) $(@D) && \
	sed -e 's|@bindir[@]|$(bindir)|g' $(srcdir)/%D%/cwtimed.service.in > $@.tmp && \
	mv -f $@.tmp $@
EXTRA_DIST += %D%/cwtimed.service.in %D%/cwtimed.socket
CLEANFILES += %D%/cwtimed.service
if WITH_USERUNITS
systemduserunit_DATA += %D%/cwtimed.service %D%/cwtimed.socket
endif
