/* Calendar arithmetic (see civil.h): integer formulas only, so that dates
 * read the same on every thread and every machine whatever its TZ. Base
 * layer: includes nothing of ours.
 */
#include "engine/base/civil.h"

/* Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms": eras of
 * 400 years, years starting on March 1st so that Feb 29 ends a year. */
int64_t arb_civil_days(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;  /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

void arb_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

bool arb_civil_leap(int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

int arb_civil_month_days(int64_t y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m < 1 || m > 12) return 0;
    return m == 2 && arb_civil_leap(y) ? 29 : days[m - 1];
}

int64_t arb_civil_day_of(int64_t seconds)
{
    return seconds / 86400 - (seconds % 86400 < 0);
}

/* n decimal digits at s as a number; -1 when one is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* An offset at s: "Z", "+HH:MM", "-HH:MM", or with colon optional when
 * colon_optional. */
static int offset_at(const char *s, size_t len, bool colon_optional, int32_t *minutes)
{
    if (len == 1 && (s[0] == 'Z' || s[0] == 'z')) { *minutes = 0; return 0; }
    if (len < 5 || (s[0] != '+' && s[0] != '-')) return -1;
    int h = digits(s + 1, 2), m;
    if (len == 6 && s[3] == ':') m = digits(s + 4, 2);
    else if (len == 5 && colon_optional) m = digits(s + 3, 2);
    else return -1;
    if (h < 0 || m < 0 || h > 18 || m > 59 || (h == 18 && m > 0)) return -1;
    *minutes = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
    return 0;
}

int arb_civil_offset_parse(const char *s, size_t len, int32_t *minutes)
{
    return offset_at(s, len, false, minutes);
}

int arb_civil_iso_parse(const char *s, size_t len, int64_t local_offset_s, int64_t *unix)
{
    if (len < 10 || s[4] != '-' || s[7] != '-') return -1;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > arb_civil_month_days(y, mo)) return -1;
    int64_t secs = 0;
    size_t i = 10;
    if (i < len && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
        if (len < i + 6 || s[i + 3] != ':') return -1;
        int h = digits(s + i + 1, 2), mi = digits(s + i + 4, 2), se = 0;
        i += 6;
        if (i < len && s[i] == ':') {
            if (len < i + 3 || (se = digits(s + i + 1, 2)) < 0) return -1;
            i += 3;
            if (i < len && (s[i] == '.' || s[i] == ',')) {
                size_t f = ++i;
                while (i < len && s[i] >= '0' && s[i] <= '9') i++;
                if (i == f) return -1;
            }
        }
        /* 24:00 is not accepted; a leap second (:60) reads as the next. */
        if (h < 0 || mi < 0 || h > 23 || mi > 59 || se > 60) return -1;
        secs = h * 3600 + mi * 60 + se;
    }
    int64_t offset = local_offset_s;
    if (i < len && i == 10) return -1;   /* an offset needs a time of day */
    if (i < len) {
        int32_t m;
        if (offset_at(s + i, len - i, true, &m) < 0) return -1;
        offset = (int64_t)m * 60;
    }
    *unix = arb_civil_days(y, mo, d) * 86400 + secs - offset;
    return 0;
}
