/* A client connection on a worker: reading and framing requests, queueing
 * answers, backpressure and timeouts.
 *
 * Lifecycle (libuv style): arb_conn_open starts reading; arb_conn_close stops
 * it and closes the handle; the struct is freed in the close callback, never
 * before. The worker keeps every open connection on its list.
 */
#ifndef ARB_CONN_H
#define ARB_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <msgpack.h>
#include <uv.h>

#include "engine/frame.h"
#include "engine/worker.h"

struct arb_conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;                         /* first, so the handle pointer is the conn pointer */
    arb_worker_t *w;             /* owning worker */
    arb_conn_t *prev, *next;     /* worker's list */
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
};

/* Adopt fd (a connected socket; a Unix socket when is_pipe) on worker w and
 * start reading. Returns 0, or a negative libuv error (fd is then closed). */
int arb_conn_open(arb_worker_t *w, int fd, bool is_pipe, bool admin);

/* Stop reading and close; queued answers not yet written are dropped. */
void arb_conn_close(arb_conn_t *c);

/* Append bytes (a whole packed answer) and write them out. */
void arb_conn_send(arb_conn_t *c, const char *data, size_t len);

/* Bytes of answers queued and not yet written. */
size_t arb_conn_queued(const arb_conn_t *c);

/* Whether answers queued across every connection of the process have
 * passed --max-queued-total: new decisions are then refused `overloaded`
 * (c: any connection of the server, for its configuration). */
bool arb_conn_queued_over_total(const arb_conn_t *c);

/* Timer duty, called by the worker's sweep: close a connection whose partial
 * frame stalled past the frame timeout, or that idled past the idle timeout.
 * When draining, close it once it has gone quiet. */
void arb_conn_check_timeouts(arb_conn_t *c, uint64_t now_ms);

#endif
