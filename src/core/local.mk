# libcwtcore.a: pure logic, no I/O and no clock reads.
noinst_LIBRARIES += libcwtcore.a
libcwtcore_a_SOURCES = \
	%D%/records.c %D%/records.h
libcwtcore_a_SOURCES += %D%/classify.c %D%/classify.h %D%/backoff.c %D%/backoff.h
libcwtcore_a_SOURCES += %D%/target.c %D%/target.h %D%/rules.c %D%/rules.h
libcwtcore_a_SOURCES += %D%/entry.c %D%/entry.h
libcwtcore_a_SOURCES += %D%/tracker.c %D%/tracker.h
libcwtcore_a_SOURCES += %D%/outbox.c %D%/outbox.h %D%/state.c %D%/state.h
libcwtcore_a_SOURCES += %D%/session_policy.c %D%/session_policy.h
libcwtcore_a_SOURCES += %D%/conditions.c %D%/conditions.h %D%/refdata.c %D%/refdata.h
