/* A client connection (see conn.h).
 *
 * Reading: libuv reads straight into msgpack-c's streaming buffer. The
 * frame scanner (frame.c) must have seen one whole frame within the limits
 * before the set's on_frame callback gets its bytes; msgpack-c parses
 * exactly that frame into the unpacker's zone only if the callback asks
 * (arb_conn_frame_tree), and the zone is cleared after it, so a steady
 * stream of requests allocates nothing.
 *
 * Writing: answers are packed into one of two buffers; the answers of one
 * read go out in one write(2) (uv_try_write) when the client takes them;
 * what it does not take goes in a uv_write, one in flight at a time, which
 * takes the other buffer when it completes. When the answers queued for a
 * client pass max_queued, the connection stops reading (and stops answering
 * frames already read) until the client drains them. One answer is bounded
 * by max_answer (rpc.c's writer, which the callback packs with), so a
 * connection holds at most max_queued + max_answer of answers.
 *
 * Totals: what every connection holds is also counted process-wide (one
 * server per process): request bytes buffered and not yet answered (partial
 * frames, mostly), and answer bytes queued. Past --max-partial, the
 * connection whose read passed it is closed; past --max-queued-total, a
 * connection with answers queued pauses and new decisions answer
 * `overloaded`. Memory for clients that stall or never read is so bounded
 * in total, not only per connection.
 *
 * Half-closed clients: end of stream from the client stops reading, not
 * answering: every request read is answered and written before the close.
 */
#include "engine/server/conn.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/base/log.h"

/* Reads start small, so that an idle connection holds a few KiB, and double
 * up to ARB_READ_MAX while the kernel keeps filling them. */
#define ARB_READ_MIN 4000
#define ARB_READ_MAX 65536
/* msgpack-c keeps a reference count at the buffer's start: room for it
 * too, so the first read does not already grow the buffer. */
#define ARB_UNPACKER_INIT (ARB_READ_MIN + 96)
/* An unpacker buffer that grew past this for one large frame is given back
 * once it is empty. */
#define ARB_KEEP_BUFFER (128 * 1024)
/* Answer buffers come from the set's spares while a connection has
 * answers queued, and go back when they are written: an idle connection
 * holds none. */
#define ARB_OUT_CHUNK 16384
#define ARB_SPARE_SLOTS 64   /* line slots kept between deferred answers, per set */

/* One answer owed in line (see arb_conn_t.line). */
typedef struct arb_conn_slot {
    struct arb_conn_slot *next;
    uint64_t seq;
    bool ready;
    size_t len;                  /* ready: bytes in data; waiting: the weight counted */
    char data[];
} arb_conn_slot_t;

/* A slot that held no answer bytes goes back to the set's spares. */
static void slot_release(arb_conns_t *set, arb_conn_slot_t *sl, bool bare)
{
    if (bare && set->n_spare_slots < ARB_SPARE_SLOTS) {
        sl->next = set->spare_slots;
        set->spare_slots = sl;
        set->n_spare_slots++;
        return;
    }
    free(sl);
}

static void conn_process(arb_conn_t *c);

static _Atomic size_t partial_total;   /* request bytes buffered, every connection */
static _Atomic size_t queued_total;    /* answer bytes queued, every connection */

/* Bring this connection's share of the totals up to date. Unsigned
 * wrap-around makes the difference right whichever way it went. */
static void conn_account(arb_conn_t *c)
{
    size_t in = c->closing ? 0 : c->unp.used - c->unp.off;
    size_t out = c->closing ? 0 : arb_conn_queued(c);
    if (in != c->held_in) atomic_fetch_add(&partial_total, in - c->held_in);
    if (out != c->held_out) atomic_fetch_add(&queued_total, out - c->held_out);
    c->held_in = in;
    c->held_out = out;
}

bool arb_conn_queued_over_total(const arb_conn_t *c)
{
    return atomic_load_explicit(&queued_total, memory_order_relaxed) >
           c->set->cfg->max_queued_total;
}

/* Give the buffer answers are packed into memory, from the set's spares. */
static void conn_out_ready(arb_conn_t *c)
{
    msgpack_sbuffer *b = &c->out[c->filling];
    if (b->alloc) return;
    arb_conns_t *set = c->set;
    char *mem = set->n_spare ? set->spare[--set->n_spare] : malloc(ARB_OUT_CHUNK);
    if (!mem) return;   /* msgpack_sbuffer_write allocates itself */
    b->data = mem;
    b->alloc = ARB_OUT_CHUNK;
    b->size = 0;
}

/* Hand a written buffer back: to the spares when it kept its size. */
static void out_release(arb_conns_t *set, msgpack_sbuffer *b)
{
    if (b->alloc == ARB_OUT_CHUNK && set->n_spare < (int)(sizeof set->spare / sizeof set->spare[0]))
        set->spare[set->n_spare++] = b->data;
    else
        free(b->data);
    msgpack_sbuffer_init(b);
}
static void conn_read_start(arb_conn_t *c);

size_t arb_conn_queued(const arb_conn_t *c)
{
    return c->out[0].size + c->out[1].size + c->line_bytes;
}

static void conn_on_close(uv_handle_t *h)
{
    arb_conn_t *c = (arb_conn_t *)h;
    arb_conns_t *set = c->set;
    if (c->prev) c->prev->next = c->next; else set->list = c->next;
    if (c->next) c->next->prev = c->prev;
    conn_account(c);   /* closing: its share goes to 0 */
    msgpack_unpacker_destroy(&c->unp);
    for (arb_conn_slot_t *sl = c->line, *next; sl; sl = next) {
        next = sl->next;
        slot_release(set, sl, !sl->ready);
    }
    out_release(set, &c->out[0]);
    out_release(set, &c->out[1]);
    arb_stat_inc(&set->stats->connections_closed);
    set->cb.on_close(c, set->ud);
    free(c);
}

void arb_conn_close(arb_conn_t *c)
{
    if (c->closing) return;
    c->closing = true;
    if (c->reading) uv_read_stop(&c->h.stream);
    c->reading = false;
    uv_close(&c->h.handle, conn_on_close);
}

static void conn_read_pause(arb_conn_t *c)
{
    if (!c->reading && !c->line_wait) return;
    if (c->reading) uv_read_stop(&c->h.stream);
    c->reading = false;
    c->line_wait = false;   /* the queue's pause from now: conn_on_write resumes */
    arb_stat_inc(&c->set->stats->backpressure_pauses);
}

static void conn_on_write(uv_write_t *req, int status);

/* Write what the client takes now, without libuv's write completion (a loop
 * turn and an epoll_ctl each); not while held: conn_on_write resumes those.
 * 0, or -1 when the connection failed and is closing. */
static int conn_try_write(arb_conn_t *c, msgpack_sbuffer *b)
{
    if (!c->reading || c->held) return 0;
    uv_buf_t buf = uv_buf_init(b->data, (unsigned)b->size);
    int n = uv_try_write(&c->h.stream, &buf, 1);
    if (n == UV_EAGAIN) return 0;
    if (n < 0) {
        arb_conn_close(c);
        return -1;
    }
    if ((size_t)n == b->size) {
        out_release(c->set, b);
    } else {
        memmove(b->data, b->data + n, b->size - (size_t)n);
        b->size -= (size_t)n;
    }
    conn_account(c);
    return 0;
}

static void conn_flush(arb_conn_t *c)
{
    if (c->writing || c->closing) return;
    msgpack_sbuffer *b = &c->out[c->filling];
    if (b->size && conn_try_write(c, b) < 0) return;
    if (b->size == 0) {
        /* After end of stream, the last answer written is the end. */
        if ((c->close_after_flush || c->eof) && !c->pending) arb_conn_close(c);
        return;
    }
    uv_buf_t buf = uv_buf_init(b->data, (unsigned)b->size);
    c->writing = true;
    c->filling ^= 1;
    int r = uv_write(&c->wreq, &c->h.stream, &buf, 1, conn_on_write);
    if (r < 0) {
        c->writing = false;
        arb_conn_close(c);
    }
}

static void conn_on_write(uv_write_t *req, int status)
{
    arb_conn_t *c = req->data;
    c->writing = false;
    out_release(c->set, &c->out[c->filling ^ 1]);
    conn_account(c);
    if (c->closing) return;
    if (status < 0) {
        arb_conn_close(c);
        return;
    }
    size_t max = c->set->cfg->max_queued;
    if ((c->held || !c->reading) && !c->close_after_flush && arb_conn_queued(c) <= max / 2) {
        conn_process(c);   /* frames read before the pause come first */
        if (!c->closing && !c->close_after_flush && !c->eof && !c->held) conn_read_start(c);
    }
    conn_flush(c);
}

uint64_t arb_conn_defer(arb_conn_t *c, size_t weight)
{
    arb_conn_slot_t *sl = c->set->spare_slots;
    if (sl) c->set->n_spare_slots--, c->set->spare_slots = sl->next, memset(sl, 0, sizeof *sl);
    else sl = calloc(1, sizeof *sl);
    if (!sl) {
        arb_log_warn("closing connection", "reason=\"out of memory for an answer\" worker=%d",
                     c->set->log_index);
        arb_conn_close(c);
        return 0;
    }
    sl->seq = ++c->next_seq;
    sl->len = weight;
    if (c->line_tail) c->line_tail->next = sl;
    else c->line = sl;
    c->line_tail = sl;
    c->pending++;
    c->line_bytes += weight;
    conn_account(c);
    return sl->seq;
}

/* Send what is ready at the head of the line; read again once it has room. */
static void line_flush(arb_conn_t *c)
{
    while (c->line && c->line->ready) {
        arb_conn_slot_t *sl = c->line;
        c->line = sl->next;
        if (!c->line) c->line_tail = NULL;
        c->pending--;
        c->line_bytes -= sl->len;
        arb_conn_send(c, sl->data, sl->len);
        slot_release(c->set, sl, false);
    }
    conn_account(c);
    if (c->line_wait && c->pending < ARB_CONN_LINE_MAX && !c->closing && !c->processing) {
        /* line_wait stays set meanwhile: a pause for the answer queue then
         * counts as one (conn_read_pause) */
        conn_process(c);
        if (!c->held) c->line_wait = false;
        if (!c->closing && !c->close_after_flush && !c->eof && !c->held) conn_read_start(c);
        conn_flush(c);
    }
}

void arb_conn_answer_late(arb_conn_t *c, uint64_t seq, const char *data, size_t len)
{
    arb_conn_slot_t **pp = &c->line, *sl;
    while ((sl = *pp) && sl->seq != seq) pp = &sl->next;
    if (!sl || c->closing) return;
    if (!len) {
        arb_conn_close(c);   /* not even an error could be packed: the close says it */
        return;
    }
    const msgpack_sbuffer *f = &c->out[c->filling];   /* conn_process's answers behind */
    bool own = f->data && data >= f->data && data < f->data + f->alloc;
    if (sl == c->line && !own) {
        /* Nothing owed before it: it goes out now, without a copy into
         * the slot, and those ready behind it follow. */
        c->line = sl->next;
        if (!c->line) c->line_tail = NULL;
        c->pending--;
        c->line_bytes -= sl->len;
        slot_release(c->set, sl, true);
        arb_conn_send(c, data, len);
        line_flush(c);
        return;
    }
    bool tail = c->line_tail == sl;
    arb_conn_slot_t *full = realloc(sl, sizeof *sl + len);
    if (!full) {
        arb_conn_close(c);
        return;
    }
    *pp = full;
    if (tail) c->line_tail = full;
    memcpy(full->data, data, len);
    c->line_bytes += len - full->len;
    full->len = len;
    full->ready = true;
    line_flush(c);
}

void arb_conn_send(arb_conn_t *c, const char *data, size_t len)
{
    if (c->closing) return;
    conn_out_ready(c);
    if (msgpack_sbuffer_write(&c->out[c->filling], data, len) != 0) {
        /* Nothing was copied; the client would wait forever for this
         * answer: closing tells it. */
        arb_stat_inc(&c->set->stats->answer_failures);
        arb_log_warn("closing connection", "reason=\"out of memory for an answer\" worker=%d",
                     c->set->log_index);
        arb_conn_close(c);
        return;
    }
    conn_account(c);
    if (c->set->hold) {
        if (!c->write_due) {
            c->write_due = true;
            c->due_next = c->set->due;
            c->set->due = c;
        }
        return;
    }
    conn_flush(c);
}

void arb_conns_release_writes(arb_conns_t *set)
{
    set->hold = false;
    while (set->due) {
        arb_conn_t *c = set->due;
        set->due = c->due_next;
        c->write_due = false;
        conn_flush(c);
    }
}

/* Answer a frame the scanner refused, then close: the stream cannot be
 * resynchronised after bytes that are not a frame. */
static void conn_protocol_error(arb_conn_t *c, arb_frame_status_t st)
{
    const arb_config_t *cfg = c->set->cfg;
    const char *p = c->unp.buffer + c->unp.off;
    size_t len = c->unp.used - c->unp.off;
    char msg[160];
    if (st == ARB_FRAME_TOO_BIG)
        snprintf(msg, sizeof msg, "%s (%zu bytes)", arb_frame_status_message(st), cfg->max_frame);
    else if (st == ARB_FRAME_TOO_DEEP)
        snprintf(msg, sizeof msg, "%s (%d)", arb_frame_status_message(st), cfg->max_depth);
    else
        snprintf(msg, sizeof msg, "%s", arb_frame_status_message(st));
    arb_log_warn("closing connection", "reason=\"%s\" worker=%d", msg, c->set->log_index);
    conn_out_ready(c);
    c->set->cb.on_protocol_error(c, p, len, msg, &c->out[c->filling], c->set->ud);
    c->close_after_flush = true;
    conn_read_pause(c);
}

/* Hand back the unpacker's memory after a large frame, once nothing is
 * buffered. */
static void unpacker_recycle(arb_conn_t *c)
{
    if (c->unp.used != c->unp.off) return;
    if (c->unp.used + c->unp.free <= ARB_KEEP_BUFFER) return;
    msgpack_unpacker_destroy(&c->unp);
    if (!msgpack_unpacker_init(&c->unp, ARB_UNPACKER_INIT)) abort();
    c->read_hint = ARB_READ_MIN;
}

/* Answer every whole frame buffered, until the queue limit. */
static void conn_process(arb_conn_t *c)
{
    arb_conns_t *set = c->set;
    const arb_config_t *cfg = set->cfg;
    arb_frame_limits_t lim = { cfg->max_frame, cfg->max_depth };
    c->held = false;
    c->processing = true;
    while (!c->closing && !c->close_after_flush) {
        if (c->pending >= ARB_CONN_LINE_MAX) {
            /* Enough answers wait on the store: what the client sends next
             * waits in the kernel's buffers. */
            if (c->reading) uv_read_stop(&c->h.stream);
            c->reading = false;
            c->line_wait = true;
            c->held = true;   /* line_flush carries on */
            break;
        }
        size_t queued = arb_conn_queued(c);
        if (queued > cfg->max_queued || (queued && arb_conn_queued_over_total(c))) {
            conn_read_pause(c);
            c->held = true;   /* this connection's next written answer resumes it */
            break;
        }
        const char *p = c->unp.buffer + c->unp.off;
        size_t len = c->unp.used - c->unp.off, flen;
        if (len == 0) {
            c->frame_started_ms = 0;
            break;
        }
        arb_frame_status_t st = arb_frame_scan(&c->scan, p, len, &lim, &flen);
        if (st == ARB_FRAME_MORE) {
            if (!c->frame_started_ms && !c->eof) c->frame_started_ms = uv_now(set->loop);
            break;
        }
        if (st != ARB_FRAME_DONE) {
            conn_protocol_error(c, st);
            break;
        }
        conn_out_ready(c);
        msgpack_sbuffer *out = &c->out[c->filling];
        size_t before = out->size;
        bool behind = c->line != NULL;   /* earlier answers are owed */
        c->frame = p;
        c->frame_len = flen;
        c->frame_unpacked = c->frame_refused = false;
        int rc = set->cb.on_frame(c, p, flen, out, set->ud);
        c->frame = NULL;
        if (c->frame_refused) {
            /* The scanner accepted what msgpack-c refused: treat as garbage. */
            conn_protocol_error(c, ARB_FRAME_INVALID);
            break;
        }
        /* A frame answered without its tree was never parsed by the
         * unpacker: step its buffer past the frame (msgpack-c has no call
         * for this; off is where its next parse starts). */
        if (!c->frame_unpacked) c->unp.off += flen;
        if (rc < 0) {
            c->close_after_flush = true;
            conn_read_pause(c);
        }
        if (behind && out->size > before) {
            /* Answered at once, but after what is owed: it takes its place. */
            uint64_t seq = arb_conn_defer(c, out->size - before);
            if (seq) arb_conn_answer_late(c, seq, out->data + before, out->size - before);
            out->size = before;
        }
        /* Release the frame: un-reference the buffer so it can be rewound,
         * clear the zone (it keeps its first chunk), reset the parser. */
        msgpack_unpacker_flush_zone(&c->unp);
        if (c->unp.z) msgpack_unpacker_reset_zone(&c->unp);  /* no zone for a bare scalar */
        msgpack_unpacker_reset(&c->unp);
        arb_frame_scan_reset(&c->scan);
        c->frame_started_ms = 0;
        conn_account(c);   /* the totals see each answer as it is queued */
    }
    c->processing = false;
    unpacker_recycle(c);
    conn_account(c);
    conn_flush(c);
}

const msgpack_object *arb_conn_frame_tree(arb_conn_t *c)
{
    if (!c->frame || c->frame_refused) return NULL;
    if (!c->frame_unpacked) {
        c->frame_unpacked = true;
        if (msgpack_unpacker_execute(&c->unp) <= 0) {
            c->frame_refused = true;
            return NULL;
        }
    }
    c->frame_tree = msgpack_unpacker_data(&c->unp);
    return &c->frame_tree;
}

static void conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    arb_conn_t *c = (arb_conn_t *)h;
    if (!msgpack_unpacker_reserve_buffer(&c->unp, c->read_hint)) {
        *buf = uv_buf_init(NULL, 0);   /* libuv reports UV_ENOBUFS */
        return;
    }
    *buf = uv_buf_init(msgpack_unpacker_buffer(&c->unp),
                       (unsigned)msgpack_unpacker_buffer_capacity(&c->unp));
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    arb_conn_t *c = (arb_conn_t *)s;
    if (nread == UV_EOF) {
        /* Half-closed: what was read is answered (conn_process did, up to
         * the queue limit; the rest when the client drains), then the
         * connection closes once the last answer is written. */
        c->eof = true;
        c->frame_started_ms = 0;   /* a partial frame can no longer complete: not a stall */
        if (c->reading) uv_read_stop(&c->h.stream);
        c->reading = false;
        conn_flush(c);
        return;
    }
    if (nread < 0) {
        arb_conn_close(c);
        return;
    }
    if (nread == 0) return;
    /* A read that filled what was offered: more is waiting, offer more. */
    if ((size_t)nread == buf->len && c->read_hint < ARB_READ_MAX) c->read_hint *= 2;
    msgpack_unpacker_buffer_consumed(&c->unp, (size_t)nread);
    c->last_active_ms = uv_now(c->set->loop);
    size_t held = c->held_in;
    conn_process(c);
    if (!c->closing && c->held_in > held &&
        atomic_load_explicit(&partial_total, memory_order_relaxed) >
            c->set->cfg->max_partial) {
        /* This read is what passed the total: this connection goes, those
         * already holding their share keep it. */
        arb_stat_inc(&c->set->stats->partial_closes);
        arb_log_warn("closing connection",
                     "reason=\"partial frames of all clients passed --max-partial\" worker=%d",
                     c->set->log_index);
        arb_conn_close(c);
        conn_account(c);
    }
}

static void conn_read_start(arb_conn_t *c)
{
    if (c->reading || c->closing) return;
    if (uv_read_start(&c->h.stream, conn_on_alloc, conn_on_read) == 0) c->reading = true;
    else arb_conn_close(c);
}

void arb_conns_init(arb_conns_t *set, uv_loop_t *loop, const arb_config_t *cfg,
                    arb_stats_t *stats, int log_index, const arb_conn_callbacks_t *cb, void *ud)
{
    memset(set, 0, sizeof *set);
    set->loop = loop;
    set->cfg = cfg;
    set->stats = stats;
    set->log_index = log_index;
    set->cb = *cb;
    set->ud = ud;
}

void arb_conns_free(arb_conns_t *set)
{
    while (set->n_spare) free(set->spare[--set->n_spare]);
    for (arb_conn_slot_t *sl = set->spare_slots, *next; sl; sl = next) {
        next = sl->next;
        free(sl);
    }
}

int arb_conn_open(arb_conns_t *set, int fd, bool is_pipe, bool admin)
{
    arb_conn_t *c = calloc(1, sizeof *c);
    if (!c || !msgpack_unpacker_init(&c->unp, ARB_UNPACKER_INIT)) {
        free(c);
        close(fd);
        return UV_ENOMEM;
    }
    int r = is_pipe ? uv_pipe_init(set->loop, &c->h.pipe, 0) : uv_tcp_init(set->loop, &c->h.tcp);
    if (r < 0) {
        msgpack_unpacker_destroy(&c->unp);
        free(c);
        close(fd);
        return r;
    }
    r = is_pipe ? uv_pipe_open(&c->h.pipe, fd) : uv_tcp_open(&c->h.tcp, fd);
    c->set = set;
    c->id = ++set->next_id;
    c->admin = admin;
    c->wreq.data = c;
    c->read_hint = ARB_READ_MIN;
    c->last_active_ms = uv_now(set->loop);
    msgpack_sbuffer_init(&c->out[0]);
    msgpack_sbuffer_init(&c->out[1]);
    arb_frame_scan_reset(&c->scan);
    c->next = set->list;
    if (set->list) set->list->prev = c;
    set->list = c;
    arb_stat_inc(&set->stats->connections_accepted);
    if (r < 0) {
        close(fd);
        arb_conn_close(c);
        return 0;   /* it exists: on_close follows */
    }
    if (!is_pipe) {
        uv_tcp_nodelay(&c->h.tcp, 1);
        uv_tcp_keepalive(&c->h.tcp, 1, 60);
    }
    conn_read_start(c);
    return 0;
}
