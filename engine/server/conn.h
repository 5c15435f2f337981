/* A client connection: reading and framing requests, queueing answers,
 * backpressure and timeouts. It knows nothing of what a frame means: it
 * hands each whole frame to a callback, the way libuv's stream hands bytes
 * to read_cb, and writes whatever the callback packed.
 *
 * Lifecycle (libuv style): arb_conn_open starts reading; arb_conn_close stops
 * it and closes the handle; the struct is freed in the close callback, never
 * before. Every open connection is on its set's list (one set per loop).
 */
#ifndef ARB_CONN_H
#define ARB_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <msgpack.h>
#include <uv.h>

#include "engine/wire/frame.h"
#include "engine/server/config.h"
#include "engine/base/stats.h"

typedef struct arb_conn arb_conn_t;

/* What the owner of a set of connections is told. ud is the set's. */
typedef struct arb_conn_callbacks {
    /* One whole frame, len bytes checked by the frame scanner (valid
     * during the call only; arb_conn_frame_tree unpacks it when the owner
     * wants msgpack-c's tree): append its answer, if any, to out. Return
     * 0, or -1 to close the connection once what out holds is written. */
    int (*on_frame)(arb_conn_t *c, const char *frame, size_t len, msgpack_sbuffer *out, void *ud);
    /* The bytes at the stream's head (len of them) are not a frame within
     * the limits, for the reason msg: append to out what the client should
     * read before the close (possibly nothing). */
    void (*on_protocol_error)(arb_conn_t *c, const char *bytes, size_t len, const char *msg,
                              msgpack_sbuffer *out, void *ud);
    /* c is closed and about to be freed. */
    void (*on_close)(arb_conn_t *c, void *ud);
} arb_conn_callbacks_t;

/* The connections of one loop and what they share: the loop, the
 * configuration (borrowed), the stats they count in (borrowed), the
 * callbacks, and spare answer buffers between uses (ARB_OUT_CHUNK bytes
 * each, owned). Touched by the loop's thread only. */
typedef struct arb_conns {
    uv_loop_t *loop;
    const arb_config_t *cfg;
    arb_stats_t *stats;
    int log_index;               /* the worker's index, for logs */
    arb_conn_callbacks_t cb;
    void *ud;                    /* passed to every callback */
    arb_conn_t *list;            /* open connections (intrusive list) */
    uint64_t next_id;            /* ids for matching late replies to connections */
    char *spare[64];
    int n_spare;
    struct arb_conn_slot *spare_slots; /* line slots between deferred answers, owned */
    int n_spare_slots;
    /* Between arb_conns_hold_writes and arb_conns_release_writes: answers
     * sent are queued, and written once per connection at the release. */
    bool hold;
    struct arb_conn *due;        /* connections with answers queued meanwhile */
} arb_conns_t;

/* Set up an empty set; free its spares with arb_conns_free once its
 * connections are all closed. */
void arb_conns_init(arb_conns_t *set, uv_loop_t *loop, const arb_config_t *cfg,
                    arb_stats_t *stats, int log_index, const arb_conn_callbacks_t *cb, void *ud);
void arb_conns_free(arb_conns_t *set);


struct arb_conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;                         /* first, so the handle pointer is the conn pointer */
    arb_conns_t *set;            /* the set it belongs to */
    arb_conn_t *prev, *next;     /* set's list */
    uint64_t id;                 /* unique per worker, for late replies */
    bool admin;                  /* accepted on the admin socket */
    bool reading;                /* uv_read_start in effect */
    bool closing;                /* uv_close called */
    bool close_after_flush;      /* protocol error: close once the error is written */
    msgpack_unpacker unp;        /* msgpack-c's buffer and parser for this stream */
    arb_frame_scan_t scan;       /* the check of the frame being received */
    uint64_t frame_started_ms;   /* loop time the partial frame began; 0 = none */
    uint64_t last_active_ms;     /* loop time of the last byte read */
    size_t read_hint;            /* bytes to offer the next read */
    msgpack_sbuffer out[2];      /* answers: one being written, one filling */
    int filling;                 /* index of the buffer answers go to */
    bool writing;                /* a uv_write is in flight */
    uv_write_t wreq;             /* the write in flight */
    bool eof;                    /* the client shut its write side: answer, then close */
    bool held;                   /* frames wait for queued answers to be written */
    size_t held_in;              /* request bytes buffered, as counted in the total */
    size_t held_out;             /* answer bytes queued, as counted in the total */
    /* Answers owed in the order of their requests: the first waits on the
     * store, the ones behind it (late or not) wait for it. No close while
     * any is owed; reads stop while ARB_CONN_LINE_MAX are. */
    struct arb_conn_slot *line, *line_tail;
    uint32_t pending;            /* slots in line */
    size_t line_bytes;           /* what they hold: counted as queued (--max-queued, the total) */
    uint64_t next_seq;
    bool line_wait;              /* reads stopped: the line is full */
    bool processing;             /* inside conn_process: a late answer must not re-enter it */
    /* The bytes of the frame on_frame is handling (NULL outside it): what a
     * request that outlives its frame copies instead of repacking it. */
    const char *frame;
    size_t frame_len;
    bool frame_unpacked;         /* arb_conn_frame_tree ran on it */
    bool frame_refused;          /* and msgpack-c refused what the scanner took */
    msgpack_object frame_tree;   /* what it built */
    bool write_due;              /* on the set's due list */
    struct arb_conn *due_next;
};

#define ARB_CONN_LINE_MAX 16

/* Adopt fd (a connected socket; a Unix socket when is_pipe) into set and
 * start reading. Returns 0 when the connection exists: on_close is then
 * called once, when it closes (at once if fd could not be adopted). Returns
 * a negative libuv error when it could not even be created: fd is closed and
 * no callback follows. */
int arb_conn_open(arb_conns_t *set, int fd, bool is_pipe, bool admin);

/* Stop reading and close; queued answers not yet written are dropped. */
void arb_conn_close(arb_conn_t *c);

/* Append bytes (a whole packed answer) and write them out (at the release,
 * while the set holds writes). */
void arb_conn_send(arb_conn_t *c, const char *data, size_t len);

/* Hold the writes of arb_conn_send for a run of answers that arrive
 * together (a worker's inbox), then write each connection's at once: one
 * write(2) per connection, not one per answer. Both within one callback of
 * the loop (a connection closed meanwhile is freed only after it). */
static inline void arb_conns_hold_writes(arb_conns_t *set) { set->hold = true; }
void arb_conns_release_writes(arb_conns_t *set);

/* Called by on_frame: msgpack-c's tree of the frame being handled, built
 * once, in the connection's unpacker (valid during on_frame only). NULL
 * when msgpack-c refuses bytes the scanner took: on_frame then packs
 * nothing, and the connection answers as to bytes that are not a frame. */
const msgpack_object *arb_conn_frame_tree(arb_conn_t *c);

/* Called by on_frame: the answer to the frame being handled comes later.
 * weight: the bytes the request holds meanwhile, counted as queued answers
 * until the answer replaces them. Returns its place in line, for
 * arb_conn_answer_late. 0: out of memory (the connection is closing). */
uint64_t arb_conn_defer(arb_conn_t *c, size_t weight);

/* The late answer for place seq (len bytes, copied; len 0: none could be
 * packed, the connection closes so that the client knows). Every answer
 * now at the head of the line is sent, in order. */
void arb_conn_answer_late(arb_conn_t *c, uint64_t seq, const char *data, size_t len);

/* Bytes of answers queued and not yet written, with those owed in line. */
size_t arb_conn_queued(const arb_conn_t *c);

/* Whether answers queued across every connection of the process have
 * passed --max-queued-total: new decisions are then refused `overloaded`
 * (c: any connection of the server, for its configuration). */
bool arb_conn_queued_over_total(const arb_conn_t *c);

/* Timer duty, called by the owner's sweep: close a connection whose partial
 * frame stalled past the frame timeout, or that idled past the idle timeout.
 * When draining, close it once it has gone quiet, or at drain_deadline_ms. */
void arb_conn_check_timeouts(arb_conn_t *c, uint64_t now_ms, bool draining,
                             uint64_t drain_deadline_ms);

#endif
