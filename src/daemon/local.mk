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
libcwtdaemon_a_SOURCES += %D%/fileops.c %D%/fileops.h %D%/journal.c %D%/journal.h
libcwtdaemon_a_SOURCES += %D%/log.c %D%/log.h %D%/paths.c %D%/paths.h
libcwtdaemon_a_SOURCES += %D%/notify.c %D%/notify.h
libcwtdaemon_a_SOURCES += %D%/ipc.c %D%/ipc.h %D%/commands.c %D%/commands.h
libcwtdaemon_a_SOURCES += %D%/daemon.c
libcwtdaemon_a_SOURCES += %D%/config.c %D%/config.h
libcwtdaemon_a_SOURCES += %D%/http.c %D%/http.h %D%/cwapi.c %D%/cwapi.h
libcwtdaemon_a_SOURCES += %D%/logind.c %D%/logind.h
libcwtdaemon_a_SOURCES += %D%/clocksrc.c %D%/clocksrc.h %D%/ticker.c %D%/ticker.h %D%/cmd-timer.c %D%/cmd-timer.h
libcwtdaemon_a_SOURCES += %D%/submitter.c %D%/submitter.h
libcwtdaemon_a_SOURCES += %D%/cmd-ref.c %D%/cmd-ref.h
libcwtdaemon_a_SOURCES += %D%/cmd-more.c %D%/cmd-more.h
libcwtdaemon_a_SOURCES += %D%/cmd-queue.c
libcwtdaemon_a_SOURCES += %D%/cmd-entry.c %D%/cmd-entry.h
libcwtdaemon_a_SOURCES += %D%/cmd-sheet.c %D%/cmd-sheet.h
libcwtdaemon_a_SOURCES += %D%/session.c %D%/session.h
libcwtdaemon_a_SOURCES += %D%/stateview.c %D%/stateview.h
