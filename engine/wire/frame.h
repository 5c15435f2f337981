/* Frame checking: decides, before msgpack-c sees a byte, whether the bytes
 * buffered for a connection hold one complete MessagePack object that is
 * within the frame-size and nesting limits.
 *
 * msgpack-c reserves memory from the lengths a frame declares and its nesting
 * is capped inside the library, so the engine never hands it a frame that
 * this scanner has not accepted: every container count must fit in the bytes
 * the frame may still hold, every str/bin/ext length must end within the
 * frame limit, and nesting must stay within max_depth (at most 32).
 *
 * The scanner is resumable: a connection keeps one arb_frame_scan_t, and
 * each call continues where the previous one stopped, so a frame arriving one
 * byte per read costs O(bytes), not O(bytes^2).
 */
#ifndef ARB_FRAME_H
#define ARB_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* msgpack-c's own stack is MSGPACK_EMBED_STACK_SIZE (32) deep. */
#define ARB_FRAME_DEPTH_MAX 32

typedef struct arb_frame_limits {
    size_t max_frame; /* largest frame accepted, in bytes */
    int max_depth;    /* deepest nesting accepted, 1..ARB_FRAME_DEPTH_MAX */
} arb_frame_limits_t;

typedef enum arb_frame_status {
    ARB_FRAME_MORE = 0,       /* frame incomplete: read more bytes */
    ARB_FRAME_DONE = 1,       /* a whole frame is buffered: *frame_len set */
    ARB_FRAME_TOO_BIG = -1,   /* frame (or a length it declares) over max_frame */
    ARB_FRAME_TOO_DEEP = -2,  /* nesting over max_depth */
    ARB_FRAME_INVALID = -3,   /* a byte that is not MessagePack (0xc1) */
} arb_frame_status_t;

/* Scanner state for the frame that starts at the beginning of the buffer. */
typedef struct arb_frame_scan {
    size_t pos;                              /* bytes of the frame checked so far */
    int depth;                               /* open levels, 0 when done */
    uint32_t left[ARB_FRAME_DEPTH_MAX + 2];  /* elements still due per level */
} arb_frame_scan_t;

/* Start scanning a new frame. */
void arb_frame_scan_reset(arb_frame_scan_t *s);

/* Continue scanning buf[0..len), which starts at the frame's first byte and
 * holds at least the bytes seen by earlier calls. On ARB_FRAME_DONE,
 * *frame_len is the frame's length and the caller resets the scanner before
 * the next frame. */
arb_frame_status_t arb_frame_scan(arb_frame_scan_t *s, const char *buf, size_t len,
                                  const arb_frame_limits_t *lim, size_t *frame_len);

/* For an error answer to a frame that will not be unpacked: when buf starts
 * like a request [0, msgid, ...] (fixarray 4, 0, uint), set *msgid and return
 * true. Reads at most 7 bytes. */
bool arb_frame_peek_msgid(const char *buf, size_t len, uint32_t *msgid);

/* A short English description of a negative status, for error messages. */
const char *arb_frame_status_message(arb_frame_status_t st);

#endif
