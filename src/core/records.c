/*
 * records.c - names of the journal record types.
 */
#include "core/records.h"

#include <stddef.h>

static const char *const names[JOURNAL_REC_COUNT] = {
#define RECORDS_NAME(sym, num, name) [num] = name,
	RECORDS_TABLE(RECORDS_NAME)
#undef RECORDS_NAME
};

bool
records_type_known(uint16_t type)
{
	return type > 0 && type < JOURNAL_REC_COUNT && names[type] != NULL;
}

const char *
records_type_name(uint16_t type)
{
	return records_type_known(type) ? names[type] : NULL;
}
