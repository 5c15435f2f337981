/* JSON <-> MessagePack conversion for the command line (arbiter call, decide,
 * replay, test contexts), built on jansson.
 *
 * Mapping: JSON object -> map with str keys, array -> array, string -> str,
 * integer -> int, real -> float64, true/false -> bool, null -> nil. Back to
 * JSON: bin -> string (bytes as given, invalid UTF-8 replaced), ext -> null,
 * non-string map keys -> their JSON text.
 */
#ifndef ARB_JSON_H
#define ARB_JSON_H

#include <stddef.h>
#include <msgpack.h>

/* Parse text (NUL-terminated JSON) and append its MessagePack encoding to
 * out. Returns 0, or -1 with "line L column C: what" in err. */
int arb_json_to_msgpack(const char *text, msgpack_sbuffer *out, char *err, size_t errlen);

/* Render o as JSON. pretty: indent with 2 spaces. Returns a malloc'd
 * NUL-terminated string the caller frees, or NULL on allocation failure. */
char *arb_msgpack_to_json(const msgpack_object *o, int pretty);

#endif
