/*
 * ragkit.h - the library behind the ragkit programs.
 *
 * Every program in cmd/ includes this header.  The library never prints
 * and never exits: functions return 0 (or a count) on success and -1 on
 * failure, filling a rag_error that the program reports with its location.
 */
#ifndef RAGKIT_H
#define RAGKIT_H

#include "error.h"
#include "buf.h"
#include "utf8.h"
#include "json.h"
#include "ndjson.h"
#include "filter.h"

/* The package version, as configure knows it. */
const char *rag_version(void);

#endif
