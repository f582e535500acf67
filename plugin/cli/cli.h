/* The ferry CLI's shared parts: options, exit codes, what it tells the
 * user (report.c) and how it logs in (login.c). */
#ifndef FERRY_CLI_H
#define FERRY_CLI_H

#include <stdint.h>

#include <glib.h>
#include <strophe.h>

#include "ferry.h"

/* Exit status: see usage() and ferry(1). */
enum {
    EX_DONE = 0,
    EX_USAGE_ = 64,
    EX_REJECTED = 65,   /* the peer declined */
    EX_PEER_GONE = 66,  /* the peer is not online, or went away */
    EX_INTEGRITY = 67,  /* the data did not verify */
    EX_TIMEOUT = 68,    /* nothing happened for --timeout seconds */
    EX_SERVER = 69,     /* XMPP server: DNS, connect, TLS, login */
    EX_CANCELLED = 70,  /* Ctrl-C, or the peer cancelled */
    EX_REFUSED = 71,    /* the component or relay refused (quota, no relay) */
    EX_IO = 72,         /* a local file or directory */
    EX_RELAY_DOWN = 73, /* the relay could not be reached */
};

struct cli_opts {
    int sending, verbose, quiet;
    const char *jid, *password_file, *server, *component, *dir, *sid;
    const char *relay_ca, *ca_file;
    int port;
    ferry_requester_t requester;
    unsigned chunk;
    int deliver, count, timeout, wait, shuffle, yes, data_thread;
    int to_stdout;              /* recv --stdout */
    int threads;                /* --threads (0: the cores) */
    const char *ciphers;        /* --cipher LIST (NULL: auto) */
    unsigned long long max_size; /* recv --max-size (streams) */
    const char *name;            /* send --name (a stream's name) */
    const char *muc, *nick;      /* --muc ROOM, --nick NICK */
    unsigned long long corrupt;
    char **accept_from;
    const char *peer;
    char **files;
    int nfiles;
};

extern struct cli_opts o;

/* ---- report.c ---- */
double now_s(void);
/* "27.1 MiB" */
void human_size(double v, char *out, size_t len);
/* The progress line (a TTY only; at most 10 times a second). */
void report_progress(ferry_transfer_t *t, uint64_t done, uint64_t total);
/* Clears the progress line, if one is showing. */
void report_clear(void);
/* libferry's events, as lines a person reads (or, with -v, the
 * machine-readable ones the benchmarks parse). */
void report_event(ferry_transfer_t *t, const char *what);
/* The end of a transfer: the summary line, or what went wrong. Returns the
 * exit status it means. */
int report_done(ferry_transfer_t *t, ferry_status_t s, const char *reason);
/* printf to stderr with "ferry: " in front, after clearing the progress
 * line; nothing with -q unless it is an error. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- collect.c ---- */
/* The files to send: paths to open and the names to offer them under. */
int collect_files(char **args, int n, GPtrArray *paths, GPtrArray *names);

/* ---- login.c ---- */
/* Checks that the server's name resolves, then connects; runs until logged
 * in or failed. 0 when in; else prints why and returns EX_SERVER. */
int login(xmpp_ctx_t *x, xmpp_conn_t *conn, ferry_ctx_t *fctx,
          const char *password, volatile int *interrupted);
xmpp_log_t *login_logger(void);
/* 1 while the session is up (0 once the server connection is lost). */
int login_connected(void);

/* ---- muc.c ---- */
/* Being an occupant of a group chat (XEP-0045), for fan-out: session
 * messages go to the other occupants' room JIDs (room@service/nick) as
 * private messages through the room. Handlers on the given connection;
 * call muc_join() once logged in, then keep running the loop. */
struct muc;
/* Joins `room` (a bare JID) as `nick`: sends the join presence (with
 * <x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x>)
 * and adds handlers to conn. If the nick is in use, retries once as
 * nick-XXXX (4 random hex digits). A room the join creates is unlocked
 * with the default configuration. NULL on bad arguments. */
struct muc *muc_join(xmpp_conn_t *conn, const char *room, const char *nick);
/* 0 while joining; 1 once the room sent our own presence (status code 110,
 * or the presence from room/our-nick; for a room the join created, once
 * it is also unlocked): the occupant list is complete; -1
 * when the join failed (presence type='error') or the room later put us
 * out (kick, ban, destroyed); muc_error() then says why in words. */
int muc_ready(const struct muc *m);
/* NULL unless muc_ready() is -1. */
const char *muc_error(const struct muc *m);
/* Our nick in the room (after a conflict retry or a change by the room). */
const char *muc_nick(const struct muc *m);
/* The occupants' JIDs (room@service/nick, spelled as the room sends them)
 * other than ours, as currently present (available adds, unavailable
 * removes), NULL-terminated, in order of arrival; owned by m, valid until
 * the next libstrophe event. At most 256. */
const char *const *muc_occupants(const struct muc *m);
/* How many occupants are present beyond the 256 listed (0 normally). */
unsigned long muc_dropped(const struct muc *m);
/* 1 when jid (full) is an occupant JID of this room (room@service/
 * anything; the room part compared case-insensitively). */
int muc_is_room_jid(const struct muc *m, const char *jid);
/* Leaves (unavailable presence to room/nick), removes the handlers, frees.
 * Accepts NULL. Not from inside a presence handler. */
void muc_leave(struct muc *m);

#endif
