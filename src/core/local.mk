# libcwtcore.a: pure logic, no I/O and no clock reads.
noinst_LIBRARIES += libcwtcore.a
libcwtcore_a_SOURCES = \
	%D%/records.c %D%/records.h
