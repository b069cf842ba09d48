/* version.c - the package version. */
#include "config.h"

#include "ragkit.h"

const char *rag_version(void)
{
	return PACKAGE_VERSION;
}
