# cwtimectl: libc, json-c and src/common only.
bin_PROGRAMS += cwtimectl
cwtimectl_SOURCES = %D%/cwtimectl.c
cwtimectl_LDADD = libcwtcommon.a $(JSONC_LIBS)
