/* ferry: send and receive files with Ferry from the command line.
 *
 *   ferry send --jid JID --password-file FILE [options] PEER FILE...
 *   ferry recv --jid JID --password-file FILE [options]
 *
 * Built on libferry's libstrophe adapter; the exit status is in cli.h. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <strophe.h>

#include "cli.h"

struct cli_opts o = {.dir = ".",
                     .count = 1,
                     .timeout = 600,
                     .wait = 30};

static volatile int interrupted;
static int exit_code = -1;
static ferry_ctx_t *fctx;
static double idle_deadline;

/* sending: the files, one after another */
static GPtrArray *send_paths, *send_names;
static guint next_file;
static uint64_t sent_bytes;
/* One per peer (PEER, or each --to): the resource that took its first
 * file gets the next ones. */
struct target {
    const char *jid;
    char *full;
};
static GArray *targets; /* struct target */
static GPtrArray *sending; /* the transfers of the current file */
static int sent_ok, sent_failed;

/* receiving */
static int accepted, finished;
static GQueue asking = G_QUEUE_INIT; /* offers waiting for y/N, in order */
static int prompt_shown;
static char answer[64];
static size_t answer_len;

static void on_signal(int s)
{
    (void)s;
    interrupted = 1;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: ferry send [options] PEER FILE|FOLDER...\n"
        "       ferry send [options] PEER -     (standard input)\n"
        "       ferry recv [options]\n"
        "       ferry --version | --help\n"
        "\n"
        "Sends files to PEER (a JID: bob@example.org, or one of its\n"
        "resources) or receives them, live through a Ferry relay: nothing is\n"
        "stored on a server, and nothing in between can read them.\n"
        "The order of starting does not matter: `send` waits for the peer\n"
        "to come online (--wait).\n"
        "\n"
        "common options:\n"
        "  --jid JID             your account (or FERRY_JID)\n"
        "  --password-file FILE  a file with your password (or "
        "FERRY_PASSWORD)\n"
        "  --server HOST[:PORT]  XMPP server (default: from the JID's "
        "domain)\n"
        "  --ca-file FILE        trust this PEM CA for the XMPP server's "
        "TLS\n"
        "  --component JID       Ferry component (default: found with "
        "disco,\n"
        "                        else ferry.DOMAIN)\n"
        "  --relay-ca FILE       PEM CA certificates trusted for TLS relays\n"
        "  --timeout SECONDS     give up after this long with nothing "
        "happening\n"
        "                        (default 600)\n"
        "  -q, --quiet           errors only\n"
        "  -v, --verbose         machine-readable event lines (sid=, "
        "event=)\n"
        "  --data-thread         move the data on a thread of its own\n"
        "  --threads N           threads that seal or open the chunks, 1..64\n"
        "                        (default: the number of cores)\n"
        "  --cipher LIST         ciphers to offer (send) or allow (recv), in\n"
        "                        order of preference, space- or comma-\n"
        "                        separated: aes-256-gcm, chacha20-poly1305\n"
        "                        (default auto: AES-256-GCM first when the\n"
        "                        CPU has AES instructions)\n"
        "send options:\n"
        "  --to JID              send to this peer too (repeatable; then PEER\n"
        "                        may be left out). Every online Ferry device\n"
        "                        of every peer is offered the file; all that\n"
        "                        accept get it from one upload\n"
        "  --wait SECONDS        wait this long for the peer to come online\n"
        "                        (default 30)\n"
        "  --muc ROOM            send to every occupant of this group chat\n"
        "                        (through the room: works in semi-anonymous\n"
        "                        rooms); recv: join it to be offered files\n"
        "  --nick NICK           the nick in --muc ROOM (default: the JID's\n"
        "                        local part)\n"
        "  --requester sender|receiver  who asks for the channel (default\n"
        "                        sender; receiver: only the first device that\n"
        "                        answers gets the file, one transfer per peer)\n"
        "  --deliver             the component delivers the channel info\n"
        "  --chunk-size BYTES    1024..1048576 (default 262144)\n"
        "  --sid SID             session id (reuse one to resume)\n"
        "  -                     as FILE: send standard input, a stream of\n"
        "                        unknown length (--name NAME names it)\n"
        "recv options:\n"
        "  --dir DIR             where files go (default .)\n"
        "  --accept-from JID     take offers from this JID without asking\n"
        "                        (repeatable); others are declined\n"
        "  -y, --yes             take every offer without asking\n"
        "  --count N             files to receive before exiting (default "
        "1);\n"
        "                        offers beyond it are declined as busy\n"
        "  --stdout              write what arrives to standard output\n"
        "  --max-size BYTES      end a stream that grows past this\n"
        "test options: --shuffle, --test-corrupt-chunk N\n"
        "\n"
        "exit status: 0 done, 64 usage, 65 declined by the peer, 66 peer "
        "not\n"
        "  online or gone, 67 did not verify, 68 timeout, 69 XMPP server or "
        "login,\n"
        "  70 cancelled, 71 refused by the Ferry service, 72 local file or\n"
        "  directory, 73 relay unreachable\n");
}

/* ---- streams: stdin and stdout ------------------------------------------ */

/* A stream's reads run on a libferry thread: plain blocking reads. */
static ssize_t stdin_read(void *ud, uint64_t off, void *buf, size_t len)
{
    ssize_t n;

    (void)ud;
    (void)off;
    do
        n = read(0, buf, len);
    while (n < 0 && errno == EINTR);
    return n;
}

static int stdout_write(void *ud, const void *buf, size_t len)
{
    const char *p = buf;
    ssize_t n;

    (void)ud;
    while (len > 0) {
        n = write(1, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1; /* EPIPE too: the reader went away */
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int stdout_finish(void *ud, int verified)
{
    (void)ud;
    (void)verified;
    return 0;
}

/* ---- receiving ---------------------------------------------------------- */

static int from_allowed(const char *from)
{
    size_t i, lf = strcspn(from, "/");

    for (i = 0; o.accept_from && o.accept_from[i]; i++) {
        const char *a = o.accept_from[i];
        if (strcmp(a, from) == 0 ||
            (strchr(a, '/') == NULL && strlen(a) == lf &&
             g_ascii_strncasecmp(a, from, lf) == 0))
            return 1;
    }
    return 0;
}

static void take(ferry_transfer_t *t)
{
    char size[32];

    human_size((double)ferry_transfer_size(t), size, sizeof(size));
    if (o.max_size)
        (void)ferry_transfer_set_max_size(t, o.max_size);
    if (o.to_stdout) {
        ferry_sink_t sink = {stdout_write, stdout_finish, NULL};
        if (ferry_accept_sink(t, &sink) != FERRY_RC_OK) {
            err("cannot accept %s: %s", (char *)ferry_transfer_userdata(t),
                ferry_error(fctx));
            exit_code = EX_IO;
            return;
        }
        accepted++;
        say("receiving %s from %s to standard output",
            (char *)ferry_transfer_userdata(t), ferry_transfer_peer(t));
        return;
    }
    if (ferry_accept_file(t, o.dir) != FERRY_RC_OK) {
        err("cannot write %s into %s: %s", (char *)ferry_transfer_userdata(t),
            o.dir, ferry_error(fctx));
        ferry_reject(t, "not-acceptable", "the receiver cannot write it");
        exit_code = EX_IO;
        return;
    }
    accepted++;
    say("receiving %s (%s) from %s into %s",
        (char *)ferry_transfer_userdata(t), size, ferry_transfer_peer(t),
        ferry_transfer_path(t));
}

static void show_prompt(void)
{
    ferry_transfer_t *t = g_queue_peek_head(&asking);
    char size[32];

    if (t == NULL || prompt_shown)
        return;
    if (ferry_transfer_size(t) == FERRY_SIZE_UNKNOWN)
        g_strlcpy(size, "a live stream", sizeof(size));
    else
        human_size((double)ferry_transfer_size(t), size, sizeof(size));
    report_clear();
    fprintf(stderr, "%s offers %s (%s). Accept? [y/N] ",
            ferry_transfer_peer(t), (char *)ferry_transfer_userdata(t), size);
    prompt_shown = 1;
    answer_len = 0;
}

/* A line typed at the prompt (stdin is polled, never waited on: the
 * transfers and the sender's cancel go on while the question is open). */
static void read_answer(void)
{
    struct pollfd p = {0, POLLIN, 0};
    ferry_transfer_t *t;
    ssize_t n;

    if (!prompt_shown || poll(&p, 1, 0) <= 0)
        return;
    n = read(0, answer + answer_len, sizeof(answer) - 1 - answer_len);
    if (n > 0) {
        answer_len += (size_t)n;
        if (memchr(answer, '\n', answer_len) == NULL &&
            answer_len < sizeof(answer) - 1)
            return;
    }
    t = g_queue_pop_head(&asking);
    prompt_shown = 0;
    if (n <= 0)
        fputc('\n', stderr);
    if (n > 0 && (answer[0] == 'y' || answer[0] == 'Y')) {
        if (accepted >= o.count)
            ferry_reject(t, "busy", "the receiver took enough files");
        else
            take(t);
    } else
        ferry_reject(t, "declined", NULL);
    show_prompt();
}

static void on_offer(ferry_transfer_t *t, const ferry_offer_info_t *info,
                     void *ud)
{
    char size[32];

    (void)ud;
    ferry_transfer_set_userdata(t, g_strdup(info->name));
    if (info->size == FERRY_SIZE_UNKNOWN)
        g_strlcpy(size, "a live stream", sizeof(size));
    else
        human_size((double)info->size, size, sizeof(size));
    idle_deadline = now_s() + o.timeout;
    if (o.accept_from != NULL && !from_allowed(info->from)) {
        say("declined %s (%s) from %s: not in --accept-from", info->name,
            size, info->from);
        /* A policy, not the user's no (XEP "Accepting"). */
        ferry_reject(t, "not-acceptable", "not accepted from this sender");
        return;
    }
    if (accepted + (int)g_queue_get_length(&asking) >= o.count) {
        say("declined %s from %s: busy (--count %d)", info->name, info->from,
            o.count);
        ferry_reject(t, "busy", "the receiver takes no more files now");
        return;
    }
    if (o.accept_from != NULL || o.yes) {
        take(t);
        return;
    }
    /* Claim 3: the user confirms. */
    g_queue_push_tail(&asking, t);
    show_prompt();
}

/* ---- both ----------------------------------------------------------------- */

static struct target *target_of(ferry_transfer_t *t)
{
    guint i;

    for (i = 0; targets != NULL && i < targets->len; i++) {
        struct target *tg = &g_array_index(targets, struct target, i);
        const char *p = ferry_transfer_peer(t);
        size_t n = strcspn(tg->jid, "/");
        if (tg->full != NULL ? strcmp(tg->full, p) == 0
                             : strcspn(p, "/") == n &&
                                   g_ascii_strncasecmp(tg->jid, p, n) == 0)
            return tg;
    }
    return NULL;
}

static void on_progress(ferry_transfer_t *t, uint64_t done, uint64_t total,
                        void *ud)
{
    (void)ud;
    idle_deadline = now_s() + o.timeout;
    report_progress(t, done, total);
}

static void on_event(ferry_transfer_t *t, const char *what, void *ud)
{
    (void)ud;
    idle_deadline = now_s() + o.timeout;
    report_event(t, what);
}

static void on_done(ferry_transfer_t *t, ferry_status_t s, const char *reason,
                    void *ud)
{
    int code, was_asking;

    (void)ud;
    idle_deadline = now_s() + o.timeout;
    was_asking = g_queue_find(&asking, t) != NULL;
    if (!ferry_transfer_is_sender(t) && s == FERRY_DONE_REJECTED) {
        /* Declined here: said already, and it counts for nothing. */
        g_free(ferry_transfer_userdata(t));
        return;
    }
    if (was_asking) {
        if (t == g_queue_peek_head(&asking) && prompt_shown) {
            fputc('\n', stderr);
            prompt_shown = 0;
        }
        g_queue_remove(&asking, t);
        say("%s withdrew the offer of %s (%s)", ferry_transfer_peer(t),
            (char *)ferry_transfer_userdata(t), reason ? reason : "-");
        g_free(ferry_transfer_userdata(t));
        show_prompt();
        return;
    }
    code = report_done(t, s, reason);
    if (exit_code <= 0)
        exit_code = code;
    if (ferry_transfer_is_sender(t)) {
        struct target *tg = target_of(t);
        if (s == FERRY_DONE_OK) {
            sent_ok++;
            sent_bytes += ferry_transfer_size(t);
            if (tg != NULL && tg->full == NULL)
                tg->full = g_strdup(ferry_transfer_peer(t));
        } else
            sent_failed++;
        g_ptr_array_remove(sending, t);
    } else
        finished++;
    g_free(ferry_transfer_userdata(t));
}

/* ---- sending -------------------------------------------------------------- */

/* Offers the next file to every peer at once; 0 when there is none left
 * or a failure ends the run (a file a peer declined does not). */
static int send_next(void)
{
    ferry_send_opts_t so;
    ferry_transfer_t *t;
    const char *path, *name;
    guint i;
    int rc;

    if (exit_code > 0 && exit_code != EX_REJECTED)
        return 0;
    if (next_file >= send_paths->len)
        return 0;
    path = send_paths->pdata[next_file];
    name = send_names->pdata[next_file++];
    memset(&so, 0, sizeof(so));
    so.requester = o.requester;
    so.chunk_size = o.chunk;
    so.deliver = o.deliver;
    so.sid = send_paths->len == 1 && targets->len == 1 ? o.sid : NULL;
    so.name = name;
    so.shuffle = o.shuffle;
    so.corrupt_chunk = o.corrupt;
    so.wait_s = o.wait;
    if (o.requester != FERRY_REQUESTER_RECEIVER) {
        /* One transfer to every peer and each of their devices: one
         * upload, fanned out by the relay (XEP "Fan-out"). */
        const char **peers = g_new(const char *, targets->len);
        for (i = 0; i < targets->len; i++)
            peers[i] = g_array_index(targets, struct target, i).jid;
        t = NULL;
        if (strcmp(path, "-") == 0) {
            ferry_source_t src = {stdin_read, NULL, FERRY_SIZE_UNKNOWN, NULL};
            rc = ferry_send_group(fctx, peers, targets->len, &src, &so, &t);
        } else
            rc = ferry_send_file_group(fctx, peers, targets->len, path, &so,
                                       &t);
        g_free(peers);
        if (rc != FERRY_RC_OK) {
            err("cannot send %s: %s", path, ferry_error(fctx));
            if (exit_code <= 0)
                exit_code = rc == FERRY_RC_IO ? EX_IO : EX_USAGE_;
            sent_failed++;
            return send_next();
        }
        ferry_transfer_set_userdata(t, g_strdup(name));
        g_ptr_array_add(sending, t);
        if (o.verbose)
            fprintf(stderr, "ferry: sid=%s offered %s to %u peer(s)\n",
                    ferry_transfer_sid(t), path, targets->len);
        return 1;
    }
    for (i = 0; i < targets->len; i++) {
        struct target *tg = &g_array_index(targets, struct target, i);
        const char *to = tg->full ? tg->full : tg->jid;
        t = NULL;
        if (strcmp(path, "-") == 0) {
            ferry_source_t src = {stdin_read, NULL, FERRY_SIZE_UNKNOWN, NULL};
            rc = ferry_send(fctx, to, &src, &so, &t);
        } else
            rc = ferry_send_file(fctx, to, path, &so, &t);
        if (rc != FERRY_RC_OK) {
            err("cannot send %s to %s: %s", path, tg->jid, ferry_error(fctx));
            if (exit_code <= 0)
                exit_code = rc == FERRY_RC_IO ? EX_IO : EX_USAGE_;
            sent_failed++;
            continue;
        }
        ferry_transfer_set_userdata(t, g_strdup(name));
        g_ptr_array_add(sending, t);
        if (o.verbose)
            fprintf(stderr, "ferry: sid=%s offered %s to %s\n",
                    ferry_transfer_sid(t), path, to);
    }
    return sending->len > 0 ? 1 : send_next();
}

/* ---- options ---------------------------------------------------------------- */

static char *read_password(void)
{
    const char *env = getenv("FERRY_PASSWORD");
    gchar *data = NULL;
    gsize len;
    GError *e = NULL;

    if (o.password_file == NULL) {
        if (env == NULL)
            err("no password: use --password-file FILE or FERRY_PASSWORD");
        return env ? g_strdup(env) : NULL;
    }
    if (!g_file_get_contents(o.password_file, &data, &len, &e)) {
        err("cannot read the password: %s", e->message);
        g_error_free(e);
        return NULL;
    }
    g_strchomp(data);
    return data;
}

static int number(const char *opt, const char *s, long lo, long hi, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi) {
        err("%s: expected a number from %ld to %ld, not '%s'", opt, lo, hi,
            s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv)
{
    static const struct option lo[] = {
        {"jid", 1, 0, 'j'},         {"password-file", 1, 0, 'p'},
        {"server", 1, 0, 's'},      {"component", 1, 0, 'c'},
        {"relay-ca", 1, 0, 'R'},    {"ca-file", 1, 0, 'A'},
        {"requester", 1, 0, 'r'},   {"chunk-size", 1, 0, 'k'},
        {"deliver", 0, 0, 'D'},     {"sid", 1, 0, 'I'},
        {"dir", 1, 0, 'd'},         {"accept-from", 1, 0, 'a'},
        {"count", 1, 0, 'n'},       {"timeout", 1, 0, 't'},
        {"wait", 1, 0, 'w'},        {"quiet", 0, 0, 'q'},
        {"verbose", 0, 0, 'v'},     {"yes", 0, 0, 'y'},
        {"help", 0, 0, 'h'},        {"version", 0, 0, 'V'},
        {"shuffle", 0, 0, 'S'},     {"test-corrupt-chunk", 1, 0, 'C'},
        {"data-thread", 0, 0, 'T'}, {"stdout", 0, 0, 'O'},
        {"max-size", 1, 0, 'M'},    {"name", 1, 0, 'N'},
        {"to", 1, 0, 'o'},          {"muc", 1, 0, 'm'},
        {"nick", 1, 0, 'K'},        {"threads", 1, 0, 'P'},
        {"cipher", 1, 0, 'X'},      {0, 0, 0, 0}};
    GPtrArray *af = NULL;
    char *colon;
    int ch, v;

    if (argc < 2) {
        usage(stderr);
        return -1;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 1;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("ferry %s\n", PACKAGE_VERSION);
        return 1;
    }
    if (strcmp(argv[1], "send") == 0)
        o.sending = 1;
    else if (strcmp(argv[1], "recv") != 0) {
        err("unknown command '%s' (send, recv, --help)", argv[1]);
        return -1;
    }
    o.jid = getenv("FERRY_JID");
    optind = 2;
    while ((ch = getopt_long(argc, argv, "qvyhV", lo, NULL)) != -1) {
        switch (ch) {
        case 'j':
            o.jid = optarg;
            break;
        case 'p':
            o.password_file = optarg;
            break;
        case 's':
            o.server = optarg;
            break;
        case 'c':
            o.component = optarg;
            break;
        case 'R':
            o.relay_ca = optarg;
            break;
        case 'A':
            o.ca_file = optarg;
            break;
        case 'r':
            if (strcmp(optarg, "sender") == 0)
                o.requester = FERRY_REQUESTER_SENDER;
            else if (strcmp(optarg, "receiver") == 0)
                o.requester = FERRY_REQUESTER_RECEIVER;
            else {
                err("--requester sender|receiver");
                return -1;
            }
            break;
        case 'k':
            if (number("--chunk-size", optarg, 1024, 1048576, &v))
                return -1;
            o.chunk = (unsigned)v;
            break;
        case 'D':
            o.deliver = 1;
            break;
        case 'I':
            o.sid = optarg;
            break;
        case 'd':
            o.dir = optarg;
            break;
        case 'a':
            if (af == NULL)
                af = g_ptr_array_new();
            g_ptr_array_add(af, optarg);
            break;
        case 'n':
            if (number("--count", optarg, 1, 1000000, &o.count))
                return -1;
            break;
        case 't':
            if (number("--timeout", optarg, 1, 86400 * 7, &o.timeout))
                return -1;
            break;
        case 'w':
            if (number("--wait", optarg, 1, 86400 * 7, &o.wait))
                return -1;
            break;
        case 'q':
            o.quiet = 1;
            break;
        case 'v':
            o.verbose = 1;
            break;
        case 'y':
            o.yes = 1;
            break;
        case 'S':
            o.shuffle = 1;
            break;
        case 'C':
            o.corrupt = strtoull(optarg, NULL, 10) + 1;
            break;
        case 'T':
            o.data_thread = 1;
            break;
        case 'P':
            if (number("--threads", optarg, 1, FERRY_THREADS_MAX, &o.threads))
                return -1;
            break;
        case 'O':
            o.to_stdout = 1;
            break;
        case 'X':
            o.ciphers = optarg;
            break;
        case 'M': {
            char *end;
            errno = 0;
            o.max_size = strtoull(optarg, &end, 10);
            if (errno || *optarg == '\0' || *end != '\0' || o.max_size == 0) {
                err("--max-size: a number of bytes, not '%s'", optarg);
                return -1;
            }
            break;
        }
        case 'N':
            o.name = optarg;
            break;
        case 'o':
            if (!o.sending) {
                err("--to is a send option");
                return -1;
            }
            if (targets == NULL)
                targets = g_array_new(FALSE, TRUE, sizeof(struct target));
            g_array_append_val(targets, ((struct target){optarg, NULL}));
            break;
        case 'm':
            if (strchr(optarg, '@') == NULL || strpbrk(optarg, "/ \t") ||
                optarg[0] == '@' || strchr(optarg, '@')[1] == '\0') {
                err("--muc: a room's bare JID, such as "
                    "room@conference.example.org, not '%s'",
                    optarg);
                return -1;
            }
            o.muc = optarg;
            break;
        case 'K':
            o.nick = optarg;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case 'V':
            printf("ferry %s\n", PACKAGE_VERSION);
            return 1;
        default:
            return -1;
        }
    }
    if (af != NULL) {
        g_ptr_array_add(af, NULL);
        o.accept_from = (char **)g_ptr_array_free(af, FALSE);
    }
    if (o.sending) {
        int have_to = targets != NULL || o.muc != NULL;
        if (argc - optind < (have_to ? 1 : 2)) {
            err("send needs PEER (or --to JID, or --muc ROOM) and at least "
                "one FILE");
            return -1;
        }
        if (targets == NULL)
            targets = g_array_new(FALSE, TRUE, sizeof(struct target));
        if (!have_to) {
            g_array_append_val(targets,
                               ((struct target){argv[optind++], NULL}));
        }
        o.peer = targets->len > 0
                     ? g_array_index(targets, struct target, 0).jid
                     : o.muc;
        o.files = argv + optind;
        o.nfiles = argc - optind;
        for (int i = 0; i < o.nfiles; i++)
            if (strcmp(o.files[i], "-") == 0 && o.nfiles != 1) {
                err("'-' (standard input) is sent alone");
                return -1;
            }
        if (o.requester == FERRY_REQUESTER_RECEIVER &&
            (o.muc != NULL || targets->len > 1)) {
            err("--requester receiver sends to one peer (the first device "
                "that answers); several peers or a room need the sender to "
                "request the channel");
            return -1;
        }
    } else if (optind != argc) {
        err("recv takes no arguments (the files come from the sender)");
        return -1;
    }
    /* Waiting for the peer is "nothing happening" too. */
    if (o.wait > o.timeout)
        o.wait = o.timeout;
    if (o.to_stdout && o.count != 1) {
        err("--stdout takes one file or stream (--count 1)");
        return -1;
    }
    if (o.jid == NULL) {
        err("--jid is required (or FERRY_JID)");
        return -1;
    }
    if (o.server != NULL && (colon = strrchr(o.server, ':')) != NULL) {
        if (number("--server port", colon + 1, 1, 65535, &o.port))
            return -1;
        o.server = g_strndup(o.server, (gsize)(colon - o.server));
    }
    return 0;
}

/* Before logging in: everything that can be checked locally. */
static int preflight(void)
{
    struct stat sb;
    const char *why;

    if (o.sending) {
        sending = g_ptr_array_new();
        send_paths = g_ptr_array_new_with_free_func(g_free);
        send_names = g_ptr_array_new_with_free_func(g_free);
        if (strcmp(o.files[0], "-") == 0) {
            g_ptr_array_add(send_paths, g_strdup("-"));
            g_ptr_array_add(send_names, g_strdup(o.name ? o.name : "stdin"));
            return 0;
        }
        return collect_files(o.files, o.nfiles, send_paths, send_names);
    }
    if (o.to_stdout)
        return o.accept_from == NULL && !o.yes
                   ? (err("--stdout needs --yes or --accept-from JID (the "
                          "terminal is busy with the data)"),
                      EX_USAGE_)
                   : 0;
    why = stat(o.dir, &sb) != 0                ? strerror(errno)
          : !S_ISDIR(sb.st_mode)               ? "not a directory"
          : access(o.dir, W_OK | X_OK) != 0    ? strerror(errno)
                                               : NULL;
    if (why != NULL) {
        err("cannot receive into %s: %s", o.dir, why);
        return EX_IO;
    }
    if (o.accept_from == NULL && !o.yes && !isatty(0)) {
        err("no terminal to ask whether to accept: use --yes or "
            "--accept-from JID");
        return EX_USAGE_;
    }
    return 0;
}

/* --muc: join the room (as --nick, else the JID's local part). A sender
 * offers to each occupant through the room, by its room JID, so that
 * semi-anonymous rooms work; a receiver is an occupant, to be found. */
static struct muc *room;
static GPtrArray *occupants; /* the targets' JIDs taken from the room */

static int join_room(xmpp_conn_t *conn)
{
    const char *jid = xmpp_conn_get_bound_jid(conn);
    char *nick = o.nick ? g_strdup(o.nick)
                        : g_strndup(jid, strcspn(jid, "@/"));
    double end = now_s() + MIN(o.timeout, 15);
    const char *const *p;
    int n = 0;

    room = muc_join(conn, o.muc, nick);
    g_free(nick);
    if (room == NULL) {
        err("--muc %s: cannot join", o.muc);
        return EX_USAGE_;
    }
    while (muc_ready(room) == 0 && now_s() < end && !interrupted &&
           login_connected())
        ferry_strophe_run_once(fctx, 50);
    if (muc_ready(room) != 1) {
        err("%s", muc_ready(room) < 0 ? muc_error(room)
                                      : "the room did not answer the join");
        return EX_SERVER;
    }
    if (!o.sending) {
        say("joined %s as %s", o.muc, muc_nick(room));
        return 0;
    }
    occupants = g_ptr_array_new_with_free_func(g_free);
    for (p = muc_occupants(room); *p != NULL; p++, n++) {
        g_ptr_array_add(occupants, g_strdup(*p));
        g_array_append_val(targets,
                           ((struct target){occupants->pdata[n], NULL}));
    }
    if (muc_dropped(room))
        say("%lu occupants beyond the first %d left out", muc_dropped(room),
            n);
    if (n == 0 && targets->len == 0) {
        err("nobody else is in %s", o.muc);
        return EX_PEER_GONE;
    }
    say("joined %s as %s: offering to %d occupant%s", o.muc, muc_nick(room), n,
        n == 1 ? "" : "s");
    return 0;
}

static void loop(void)
{
    idle_deadline = now_s() + o.timeout;
    for (;;) {
        if (interrupted || !login_connected())
            break;
        if (o.sending) {
            if (sending->len == 0 && !send_next())
                break;
        } else if (finished >= o.count ||
                   (exit_code == EX_IO && ferry_active(fctx) == 0))
            break;
        if (now_s() > idle_deadline) {
            if (o.sending)
                err("nothing happened for %d s: giving up", o.timeout);
            else
                err("no offer came in %d s", o.timeout);
            exit_code = EX_TIMEOUT;
            break;
        }
        ferry_strophe_run_once(fctx, prompt_shown ? 50 : 100);
        read_answer();
    }
}

int main(int argc, char **argv)
{
    ferry_callbacks_t cb = {NULL,        NULL,     on_offer,
                            on_progress, on_event, on_done};
    struct sigaction sa;
    char *password;
    xmpp_ctx_t *x;
    xmpp_conn_t *conn;
    int rc, i;

    if ((rc = parse_args(argc, argv)) != 0)
        return rc > 0 ? 0 : EX_USAGE_;
    if ((rc = preflight()) != 0)
        return rc;
    if ((password = read_password()) == NULL)
        return EX_USAGE_;
    /* No SA_RESTART: Ctrl-C must end a poll at once. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (o.sending)
        cb.offer = NULL; /* a sender takes no offers (nor answers probes) */
    xmpp_initialize();
    x = xmpp_ctx_new(NULL, login_logger());
    conn = xmpp_conn_new(x);
    fctx = ferry_ctx_new(x, &cb, NULL);
    if (fctx == NULL || ferry_strophe_attach(fctx, conn) != FERRY_RC_OK) {
        err("out of memory");
        return EX_IO;
    }
    /* A slow reader of stdout stalls only the data thread, and the relay
     * slows the sender down. */
    if ((o.data_thread || o.to_stdout) &&
        ferry_set_mode(fctx, FERRY_MODE_THREAD) != FERRY_RC_OK) {
        err("%s", ferry_error(fctx));
        return EX_IO;
    }
    (void)ferry_set_threads(fctx, o.threads); /* 0: the cores */
    if (o.ciphers && ferry_set_ciphers(fctx, o.ciphers) != FERRY_RC_OK) {
        err("--cipher: %s", ferry_error(fctx));
        return EX_USAGE_;
    }
    if (o.component)
        ferry_set_component(fctx, o.component);
    if (o.relay_ca && ferry_set_relay_ca(fctx, o.relay_ca) != FERRY_RC_OK) {
        err("--relay-ca: %s", ferry_error(fctx));
        return EX_USAGE_;
    }
    if ((rc = login(x, conn, fctx, password, &interrupted)) != 0) {
        exit_code = rc;
        goto out;
    }
    ferry_strophe_run_once(fctx, 0); /* libferry learns the bound JID */
    if (o.verbose)
        fprintf(stderr, "ferry: logged in as %s\n",
                xmpp_conn_get_bound_jid(conn));
    if (o.muc != NULL && (rc = join_room(conn)) != 0) {
        exit_code = rc;
        goto out;
    }
    if (!o.sending)
        say("waiting for %d file%s as %s%s%s", o.count, o.count > 1 ? "s" : "",
            xmpp_conn_get_bound_jid(conn), room ? " in " : "",
            room ? o.muc : "");
    loop();
    if (interrupted) {
        ferry_transfer_t *t;
        /* Ctrl-C: open questions are declined, transfers cancelled
         * (ferry_ctx_free() cancels the ones being received). */
        if (prompt_shown)
            fputc('\n', stderr);
        prompt_shown = 0;
        while ((t = g_queue_pop_head(&asking)) != NULL)
            ferry_reject(t, "declined", "the receiver stopped");
        while (sending != NULL && sending->len > 0) {
            t = sending->pdata[0];
            g_ptr_array_remove_index(sending, 0);
            ferry_cancel(t);
        }
        err("interrupted");
        exit_code = EX_CANCELLED;
    }
    /* In thread mode a cancel ends on the worker: let its done arrive. */
    for (i = 0; i < 20 && ferry_active(fctx) > 0 && login_connected(); i++)
        ferry_strophe_run_once(fctx, 10);
    if (!login_connected() && exit_code < 0) {
        err("lost the connection to the XMPP server");
        exit_code = EX_SERVER;
    }
    if (o.sending && send_paths != NULL &&
        send_paths->len * targets->len > 1) {
        char total[32];
        /* One transfer per file, or per file and peer (--requester
         * receiver). */
        guint all = o.requester == FERRY_REQUESTER_RECEIVER
                        ? send_paths->len * targets->len
                        : send_paths->len;
        human_size((double)sent_bytes, total, sizeof(total));
        if (targets->len > 1)
            say("%d of %u files sent to %u peers (%s)%s", sent_ok, all,
                targets->len, total, sent_ok == (int)all ? ", all verified" : "");
        else
            say("%d of %u files sent (%s)%s", sent_ok, all, total,
                sent_ok == (int)all ? ", all verified" : "");
    }
out:
    ferry_ctx_free(fctx);
    muc_leave(room);
    xmpp_disconnect(conn);
    for (i = 0; i < 10 && login_connected(); i++)
        xmpp_run_once(x, 50);
    xmpp_conn_release(conn);
    xmpp_ctx_free(x);
    xmpp_shutdown();
    g_free(password);
    if (send_paths != NULL) {
        g_ptr_array_free(send_paths, TRUE);
        g_ptr_array_free(send_names, TRUE);
    }
    for (i = 0; targets != NULL && i < (int)targets->len; i++)
        g_free(g_array_index(targets, struct target, i).full);
    if (targets != NULL)
        g_array_free(targets, TRUE);
    if (sending != NULL)
        g_ptr_array_free(sending, TRUE);
    if (occupants != NULL)
        g_ptr_array_free(occupants, TRUE);
    return exit_code < 0 ? EX_DONE : exit_code;
}
