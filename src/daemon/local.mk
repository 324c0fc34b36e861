# libcwtdaemon.a: the I/O shell without main(); cwtimed links it.
noinst_LIBRARIES += libcwtdaemon.a
libcwtdaemon_a_SOURCES = \
	%D%/daemon.h
libcwtdaemon_a_CFLAGS = $(AM_CFLAGS) $(LIBUV_CFLAGS) $(LIBCURL_CFLAGS) \
	$(LIBSYSTEMD_CFLAGS) $(INIH_CFLAGS)

CWT_DAEMON_LIBS = libcwtdaemon.a libcwtcore.a libcwtcommon.a \
	$(LIBUV_LIBS) $(LIBCURL_LIBS) $(LIBSYSTEMD_LIBS) $(INIH_LIBS) $(JSONC_LIBS)

bin_PROGRAMS += cwtimed
cwtimed_SOURCES = %D%/cwtimed.c
cwtimed_CFLAGS = $(libcwtdaemon_a_CFLAGS)
cwtimed_LDADD = $(CWT_DAEMON_LIBS)
