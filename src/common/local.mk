# libcwtcommon.a: shared by daemon, client and tests (libc and json-c only).
noinst_LIBRARIES += libcwtcommon.a
libcwtcommon_a_SOURCES = \
	%D%/cleanup.h \
	%D%/proto.h \
	%D%/errcode.c %D%/errcode.h
libcwtcommon_a_SOURCES += %D%/duration.c %D%/duration.h
libcwtcommon_a_SOURCES += %D%/timeparse.c %D%/timeparse.h
libcwtcommon_a_SOURCES += %D%/crc32c.c %D%/crc32c.h
libcwtcommon_a_SOURCES += %D%/base64.c %D%/base64.h
libcwtcommon_a_SOURCES += %D%/proto.c
libcwtcommon_a_SOURCES += %D%/jsonparse.c %D%/jsonparse.h
libcwtcommon_a_SOURCES += %D%/jsonutil.c %D%/jsonutil.h
