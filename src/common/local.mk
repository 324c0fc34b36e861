# libcwtcommon.a: shared by daemon, client and tests (libc and json-c only).
noinst_LIBRARIES += libcwtcommon.a
libcwtcommon_a_SOURCES = \
	%D%/cleanup.h \
	%D%/proto.h \
	%D%/errcode.c %D%/errcode.h
