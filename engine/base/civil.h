/* Calendar arithmetic without the C library's time zone: civil dates from
 * day numbers and back (Howard Hinnant's days_from_civil, proleptic
 * Gregorian), fixed UTC offsets ("+02:00") and ISO-8601 dates ("2026-03-01",
 * "2026-03-01T10:00:00+02:00"). Pure functions of their arguments: no
 * global TZ, no localtime(), so any thread may call them on the decide
 * path. Base layer: includes nothing of ours.
 */
#ifndef ARB_CIVIL_H
#define ARB_CIVIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Days since 1970-01-01 of the civil date y-m-d (m 1-12, d 1-31). */
int64_t arb_civil_days(int64_t y, int m, int d);

/* The civil date of day z (days since 1970-01-01). */
void arb_civil_from_days(int64_t z, int64_t *y, int *m, int *d);

bool arb_civil_leap(int64_t y);

/* Days in month m (1-12) of year y. */
int arb_civil_month_days(int64_t y, int m);

/* Floor division of unix seconds into days, for instants before 1970 too. */
int64_t arb_civil_day_of(int64_t seconds);

/* A fixed UTC offset: "Z", "+HH:MM" or "-HH:MM" (HH 00-18, MM 00-59).
 * Returns 0 with *minutes set, or -1 when s is not one. */
int arb_civil_offset_parse(const char *s, size_t len, int32_t *minutes);

/* An ISO-8601 date: "YYYY-MM-DD", optionally followed by "T" (or a space)
 * "HH:MM", ":SS", a fraction ".fff" (dropped) and an offset ("Z",
 * "+HH:MM", "-HH:MM", "+HHMM"). A date or time without an offset is local
 * time at local_offset_s seconds east of UTC. Returns 0 with *unix set to
 * the instant in unix seconds, or -1 when s is not such a date (a day
 * that does not exist, as 2026-02-29, included). */
int arb_civil_iso_parse(const char *s, size_t len, int64_t local_offset_s, int64_t *unix);

#endif
