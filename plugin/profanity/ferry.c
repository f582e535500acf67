/* ferry.so: Ferry file transfer inside Profanity (0.13.1), on libferry.
 *
 * The only file that includes profapi.h: that header *defines* the API's
 * function pointers (Profanity's own exported definitions win when it
 * dlopen()s us with RTLD_GLOBAL). Hooks are the exported prof_* functions.
 *
 * Threads. libferry runs in FERRY_MODE_THREAD: relay sockets, TLS, crypto
 * and file I/O run on libferry's worker, never on Profanity's thread, so a
 * 1 GiB transfer costs the UI nothing. Everything else (stanzas in and out,
 * the UI, every libferry call) happens on Profanity's main thread, the only
 * one allowed to call prof_send_stanza(). What Profanity 0.13.1 offers to
 * get back onto that thread (read in its source):
 *  - prof_run() (src/profanity.c) turns: inp_readline() (a select() on
 *    stdin only, up to "inpblock" ms, 1000 by default, with Profanity's
 *    global mutex released), plugins_run_timed(), session_process_events()
 *    (libstrophe), ui_update(). It never iterates a GLib main context (only
 *    the GTK tray does, with a display), so g_idle_add() and friends would
 *    never run, and a plugin cannot add an fd to that select().
 *  - prof_register_timed() takes whole seconds; plugins_run_timed() runs a
 *    callback when at least that many seconds passed since its last run,
 *    checked once per turn: 1 s is the finest there is.
 * So: a 1 s timed callback calls ferry_process(), and so does every hook
 * and command of ours (a stanza arriving is when the next step is most
 * likely due). A hand-over waits about a second (up to two when Profanity
 * idles: its select() then sleeps "inpblock" ms before the timer is
 * checked), for the steps that start on the worker (relay connected,
 * progress, done); the data itself never waits for it. The other way
 * in, Profanity's global mutex `lock` (its HTTP upload thread takes it to
 * send a message), would mean calling prof_send_stanza() from a thread of
 * ours; we do not. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Built with -fvisibility=hidden: only the API pointers and the hooks are
 * exported, and the pointers must stay preemptible by Profanity's. */
#pragma GCC visibility push(default)
#include <profapi.h>
#pragma GCC visibility pop

#include "ferry.h"
#include "xfer.h"

/* Profanity names a C plugin's commands and timers after the __FILE__ of
 * the registering call with ".c" turned into ".so"; a build directory's
 * __FILE__ ("../plugin/profanity/ferry.c") would not match "ferry.so". */
#define PLUGIN_FILE "ferry.c"
#define GROUP "ferry"

/* The hooks Profanity looks up with dlsym(). */
#pragma GCC visibility push(default)
void prof_init(const char *const version, const char *const status,
               const char *const account_name, const char *const fulljid);
void prof_on_shutdown(void);
void prof_on_unload(void);
void prof_on_connect(const char *const account_name, const char *const fulljid);
void prof_on_disconnect(const char *const account_name,
                        const char *const fulljid);
int prof_on_message_stanza_receive(const char *const stanza);
int prof_on_iq_stanza_receive(const char *const stanza);
int prof_on_presence_stanza_receive(const char *const stanza);
#pragma GCC visibility pop

static ferry_ctx_t *fx;
static int online;

/* ---- what the user sees ----------------------------------------------- */

/* A line in bare's chat window if there is one (bare NULL: the current
 * chat window, where the user typed), else in the console; also in the
 * log. */
static void G_GNUC_PRINTF(2, 3) say(const char *bare, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    plog("ui peer=%s text=%s", bare ? bare : "-", msg);
    if (bare == NULL && online)
        bare = prof_get_current_recipient();
    if (bare == NULL || !online || !prof_chat_show(bare, msg))
        prof_cons_show(msg);
    g_free(msg);
}

static int in_roster(const char *bare)
{
    char *name, *jid;
    int r;

    if (!online)
        return 0;
    name = prof_get_name_from_roster(bare);
    jid = name ? prof_get_barejid_from_roster(name) : NULL;
    r = jid != NULL && g_ascii_strcasecmp(jid, bare) == 0;
    free(name);
    return r;
}

/* A setting of ours; g_free() it. */
static char *setting(const char *key)
{
    char *v = prof_settings_string_get(GROUP, (char *)key, NULL);
    char *r = v && *v ? g_strdup(v) : NULL;

    free(v);
    return r;
}

static char *expand(const char *path)
{
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0'))
        return g_build_filename(g_get_home_dir(), path + 1, NULL);
    return g_strdup(path);
}

static char *download_dir(const char *arg)
{
    const char *d;
    char *s;

    if (arg != NULL)
        return expand(arg);
    if ((s = setting("download_dir")) != NULL) {
        char *r = expand(s);
        g_free(s);
        return r;
    }
    d = g_get_user_special_dir(G_USER_DIRECTORY_DOWNLOAD);
    return d ? g_strdup(d)
             : g_build_filename(g_get_home_dir(), "Downloads", NULL);
}

/* ---- libferry's callbacks (Profanity's thread) -------------------------- */

static void on_send_xml(const char *xml, void *ud)
{
    char *s = g_strdup(xml);

    (void)ud;
    if (!online || !prof_send_stanza(s))
        plog("send failed: not connected");
    g_free(s);
}

static int accept_into(struct xfer *x, const char *dir_arg)
{
    char *dir = download_dir(dir_arg);
    int rc;

    if (g_mkdir_with_parents(dir, 0700) != 0) {
        say(x->x_peer, "ferry: cannot create %s: %s", dir, strerror(errno));
        g_free(dir);
        return -1;
    }
    rc = ferry_accept_file(x->x_t, dir);
    if (rc != FERRY_RC_OK) {
        say(x->x_peer, "ferry: cannot accept #%d into %s: %s", x->x_id, dir,
            ferry_error(fx));
        g_free(dir);
        return -1;
    }
    x->x_state = X_ACTIVE;
    x->x_t0 = xfer_now();
    x->x_path = g_strdup(ferry_transfer_path(x->x_t));
    plog("accept id=%d sid=%s path=%s", x->x_id, ferry_transfer_sid(x->x_t),
         x->x_path);
    say(x->x_peer, "ferry: receiving #%d %s into %s", x->x_id, x->x_name,
        x->x_path);
    g_free(dir);
    return 0;
}

/* Opens a chat window with bare (there is none) and gives the focus back
 * to the window that had it. (prof_incoming_message() would open one too,
 * but 0.13.1 crashes in it: its message has no timestamp and an
 * uninitialised is_mam.) */
static int open_chat(const char *bare)
{
    char *back = NULL, *cmd;
    const char *r;

    /* bare goes into a command line: a JID has no white space, and the
     * server checked it, but never let one add arguments. */
    if (!online || strpbrk(bare, " \t\r\n") != NULL)
        return 0;
    if (prof_current_win_is_console())
        back = g_strdup("console");
    else if ((r = prof_get_current_recipient()) != NULL ||
             (r = prof_get_current_muc()) != NULL)
        back = g_strdup(r);
    cmd = g_strdup_printf("/msg %s", bare);
    prof_send_line(cmd);
    g_free(cmd);
    if (back != NULL) {
        cmd = g_strdup_printf("/win %s", back);
        prof_send_line(cmd);
        g_free(cmd);
    }
    g_free(back);
    return 1;
}

static void on_offer(ferry_transfer_t *t, const ferry_offer_info_t *o, void *ud)
{
    struct xfer *x = xfer_new(t, o->from, o->name, o->size, 0);
    char size[32], *msg;
    int roster = in_roster(x->x_peer);

    (void)ud;
    xfer_human(o->size, size, sizeof(size));
    plog("offer id=%d sid=%s from=%s name=%s size=%llu roster=%d", x->x_id,
         o->sid, o->from, o->name, (unsigned long long)o->size, roster);
    msg = g_strdup_printf("ferry: %s offers %s (%s). Accept: /ferry accept "
                          "%d   Reject: /ferry reject %d",
                          x->x_peer, o->name, size, x->x_id, x->x_id);
    plog("ui peer=%s text=%s", x->x_peer, msg);
    if (!prof_chat_show(x->x_peer, msg) && open_chat(x->x_peer))
        prof_chat_show(x->x_peer, msg);
    prof_cons_show(msg);
    prof_cons_alert();
    g_free(msg);
    if (!prof_settings_boolean_get(GROUP, "autoaccept", 0))
        return;
    if (!roster) {
        say(x->x_peer,
            "ferry: not accepted automatically: %s is not in "
            "your roster",
            x->x_peer);
        return;
    }
    accept_into(x, NULL);
}

static void on_progress(ferry_transfer_t *t, uint64_t done, uint64_t total,
                        void *ud)
{
    struct xfer *x = xfer_of(t);
    int q;

    (void)ud;
    if (x == NULL)
        return;
    x->x_done = done;
    if (x->x_state == X_WAITING)
        x->x_state = X_ACTIVE;
    q = total ? (int)(4.0 * (double)done / (double)total) : 4;
    if (q > x->x_quarter && q < 4) {
        char a[32], b[32];
        x->x_quarter = q;
        xfer_human(done, a, sizeof(a));
        xfer_human(total, b, sizeof(b));
        say(x->x_peer, "ferry: #%d %s %d%% (%s of %s)", x->x_id, x->x_name,
            q * 25, a, b);
    }
}

static void on_event(ferry_transfer_t *t, const char *what, void *ud)
{
    struct xfer *x = xfer_of(t);

    (void)ud;
    if (x == NULL)
        return;
    /* Flow control flips many times a second: log the first only. */
    if (strcmp(what, "resume") == 0 ||
        (strcmp(what, "slow-down") == 0 && x->x_slowed++ > 0))
        return;
    plog("event id=%d sid=%s what=%s", x->x_id, ferry_transfer_sid(t), what);
    if (strcmp(what, "accepted") == 0 && x->x_sender) {
        x->x_state = X_ACTIVE;
        x->x_t0 = xfer_now(); /* the time shown at the end */
        say(x->x_peer, "ferry: %s accepted #%d %s", x->x_peer, x->x_id,
            x->x_name);
    } else if (strcmp(what, "waiting") == 0)
        say(x->x_peer,
            "ferry: #%d waiting for %s to come online with a Ferry client",
            x->x_id, x->x_peer);
}

static void on_done(ferry_transfer_t *t, ferry_status_t st, const char *reason,
                    void *ud)
{
    struct xfer *x = xfer_of(t);
    double el;
    char *text;

    (void)ud;
    if (x == NULL)
        return;
    el = xfer_now() - x->x_t0;
    if (st == FERRY_DONE_OK)
        x->x_done = x->x_size;
    plog("done id=%d sid=%s status=%s reason=%s sender=%d path=%s "
         "seconds=%.3f",
         x->x_id, ferry_transfer_sid(t), ferry_status_name(st),
         reason ? reason : "-", x->x_sender, x->x_path ? x->x_path : "-", el);
    text = xfer_result_text(x, st, reason, el);
    say(x->x_peer, "%s", text);
    g_free(text);
    if (x->x_sender) {
        /* A send to several devices (a fan-out): one line per receiver. */
        ferry_receipt_t r[16];
        size_t i, n = ferry_transfer_receipts(t, r, 16);
        for (i = 0; n > 1 && i < n && i < 16; i++) {
            say(x->x_peer, "  %s: %s", r[i].jid,
                r[i].status == FERRY_DONE_OK
                    ? "verified"
                    : (r[i].reason ? r[i].reason
                                   : ferry_status_name(r[i].status)));
            plog("receipt id=%d jid=%s outcome=%s", x->x_id, r[i].jid,
                 r[i].status == FERRY_DONE_OK ? "verified"
                 : r[i].reason               ? r[i].reason
                                             : ferry_status_name(r[i].status));
        }
    }
    xfer_finish(x, st, reason);
}

static void pump(void)
{
    if (fx != NULL)
        ferry_process(fx, NULL, 0);
}

/* ---- /ferry ------------------------------------------------------------ */

static void cmd_send(char **args)
{
    ferry_send_opts_t so;
    ferry_transfer_t *t;
    char **paths = NULL, *peer;
    GError *err = NULL;
    struct stat st;
    int i, n = 0;

    if (args[1] == NULL || args[2] == NULL) {
        prof_cons_bad_cmd_usage("/ferry");
        return;
    }
    if (!g_shell_parse_argv(args[2], &n, &paths, &err)) {
        say(NULL, "ferry: %s", err->message);
        g_error_free(err);
        return;
    }
    peer = strchr(args[1], '@') || !online
               ? NULL
               : prof_get_barejid_from_roster(args[1]);
    peer = g_strdup(peer ? peer : args[1]);
    for (i = 0; i < n; i++) {
        char *path = expand(paths[i]), *name = g_path_get_basename(path);
        memset(&so, 0, sizeof(so));
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            say(NULL, "ferry: %s: not a file", path);
        else if (ferry_send_file(fx, peer, path, &so, &t) != FERRY_RC_OK)
            say(NULL, "ferry: cannot send %s: %s", path, ferry_error(fx));
        else {
            struct xfer *x = xfer_new(t, peer, name, (uint64_t)st.st_size, 1);
            char size[32];
            x->x_path = g_strdup(path);
            plog("send id=%d sid=%s to=%s path=%s size=%llu", x->x_id,
                 ferry_transfer_sid(t), peer, path,
                 (unsigned long long)st.st_size);
            xfer_human((uint64_t)st.st_size, size, sizeof(size));
            say(x->x_peer, "ferry: offered #%d %s (%s) to %s", x->x_id, name,
                size, peer);
        }
        g_free(path);
        g_free(name);
    }
    g_free(peer);
    g_strfreev(paths);
}

/* The entry a command means: #arg, else the newest in mask (or, if
 * newest is 0, the only one). */
static struct xfer *pick(const char *arg, int mask, const char *what,
                         int newest)
{
    struct xfer *x;
    int n;

    if (arg != NULL && arg[0] >= '0' && arg[0] <= '9') {
        x = xfer_get(atoi(arg));
        if (x == NULL || !(x->x_state & mask))
            say(NULL, "ferry: no transfer #%s to %s", arg, what);
        return x && (x->x_state & mask) ? x : NULL;
    }
    x = xfer_newest(mask, &n);
    if (x == NULL)
        say(NULL, "ferry: nothing to %s", what);
    else if (n > 1 && !newest) {
        say(NULL, "ferry: %d transfers: which one? (/ferry list)", n);
        x = NULL;
    }
    return x;
}

static void cmd_list(void)
{
    double t0 = xfer_now();
    GList *l = xfer_all();
    int n = 0;

    if (l == NULL)
        say(NULL, "ferry: no transfers");
    for (; l; l = l->next, n++) {
        char *line = xfer_describe(l->data);
        say(NULL, "%s", line);
        g_free(line);
    }
    plog("list answered entries=%d ms=%.3f", n, (xfer_now() - t0) * 1e3);
}

/* /ferry set [KEY VALUE]: args[1] the key, args[2] the value (the rest of
 * the line). */
static void cmd_set(char **args)
{
    const char *k = args[1], *v = k ? args[2] : NULL;
    char *dir;

    if (k == NULL) {
        dir = setting("download_dir");
        say(NULL, "ferry: dir=%s autoaccept=%s component=%s",
            dir ? dir : "(~/Downloads)",
            prof_settings_boolean_get(GROUP, "autoaccept", 0) ? "on" : "off",
            ferry_component(fx) ? ferry_component(fx) : "(discovered)");
        g_free(dir);
    } else if (v == NULL)
        prof_cons_bad_cmd_usage("/ferry");
    else if (strcmp(k, "dir") == 0)
        prof_settings_string_set(GROUP, "download_dir", (char *)v);
    else if (strcmp(k, "autoaccept") == 0)
        prof_settings_boolean_set(GROUP, "autoaccept", strcmp(v, "on") == 0);
    else if (strcmp(k, "component") == 0) {
        prof_settings_string_set(GROUP, "component",
                                 strcmp(v, "auto") == 0 ? "" : (char *)v);
        if (strcmp(v, "auto") != 0)
            ferry_set_component(fx, v);
    } else
        prof_cons_bad_cmd_usage("/ferry");
}

static void cmd_help(void)
{
    static const char *lines[] = {
        "/ferry send <jid> <path>...   offer files (quote paths with spaces)",
        "/ferry list                   offers and transfers, with progress",
        "/ferry accept [id] [dir]      accept an offer (default: the newest)",
        "/ferry reject [id]            decline an offer",
        "/ferry cancel [id]            stop a transfer; the peer is told",
        "/ferry set [dir <path>|autoaccept on|off|component <jid>|auto]",
        NULL};
    int i;

    for (i = 0; lines[i] != NULL; i++)
        say(NULL, "%s", lines[i]);
}

static void cmd_ferry(char **args)
{
    const char *sub = args[0];
    struct xfer *x;

    plog("command %s", sub ? sub : "help");
    pump();
    if (sub == NULL || strcmp(sub, "help") == 0)
        cmd_help();
    else if (strcmp(sub, "list") == 0)
        cmd_list();
    else if (strcmp(sub, "send") == 0)
        cmd_send(args);
    else if (strcmp(sub, "set") == 0)
        cmd_set(args);
    else if (strcmp(sub, "accept") == 0) {
        /* /ferry accept [id] [dir]: a lone argument that is not a number
         * is the directory. */
        const char *id = args[1], *dir = args[1] ? args[2] : NULL;
        if (id && !(id[0] >= '0' && id[0] <= '9')) {
            dir = id;
            id = NULL;
        }
        if ((x = pick(id, X_OFFERED, "accept", 1)) != NULL)
            accept_into(x, dir);
    } else if (strcmp(sub, "reject") == 0) {
        if ((x = pick(args[1], X_OFFERED, "reject", 1)) != NULL &&
            ferry_reject(x->x_t, "declined", NULL) != FERRY_RC_OK)
            say(NULL, "ferry: %s", ferry_error(fx));
    } else if (strcmp(sub, "cancel") == 0) {
        if ((x = pick(args[1], X_OFFERED | X_WAITING | X_ACTIVE, "cancel",
                      0)) &&
            ferry_cancel(x->x_t) != FERRY_RC_OK)
            say(NULL, "ferry: %s", ferry_error(fx));
    } else
        prof_cons_bad_cmd_usage("/ferry");
    pump();
}

/* ---- hooks ------------------------------------------------------------ */

static void on_timer(void)
{
    pump();
}

void prof_init(const char *const version, const char *const status,
               const char *const account_name, const char *const fulljid)
{
    static char *synopsis[] = {
        "/ferry send <jid> <path>...",
        "/ferry list",
        "/ferry accept [id] [dir]",
        "/ferry reject [id]",
        "/ferry cancel [id]",
        "/ferry set [dir <path>|autoaccept on|off|component <jid>|auto]",
        "/ferry help",
        NULL};
    static char *arguments[][2] = {
        {"send <jid> <path>...",
         "offer files to a contact (JID or roster name)"},
        {"list", "offers and transfers, with progress"},
        {"accept [id] [dir]", "accept an offer into dir (default: setting)"},
        {"reject [id]", "decline an offer"},
        {"cancel [id]", "stop a transfer; the peer is told"},
        {"set ...", "download dir, auto-accept from roster, component"},
        {NULL, NULL}};
    static char *subcommands[] = {"send",   "list", "accept", "reject",
                                  "cancel", "set",  "help",   NULL};
    static char *examples[] = {"/ferry send bob@example.org ~/talk.pdf",
                               "/ferry accept 3 ~/incoming", NULL};
    ferry_callbacks_t cb = {NULL,        on_send_xml, on_offer,
                            on_progress, on_event,    on_done};
    const char *env = getenv("FERRY_PROFANITY_LOG");
    char *logpath = env && *env ? g_strdup(env) : setting("log");

    (void)version;
    (void)status;
    (void)account_name;
    plog_open(logpath);
    g_free(logpath);
    fx = ferry_ctx_new(NULL, &cb, NULL);
    if (fx == NULL || ferry_set_mode(fx, FERRY_MODE_THREAD) != FERRY_RC_OK) {
        prof_cons_show("ferry: cannot start libferry");
        plog("init failed");
        return;
    }
    _prof_register_command(PLUGIN_FILE, "/ferry", 0, 3, synopsis,
                           "Send and receive files with Ferry (relayed, "
                           "end-to-end encrypted).",
                           arguments, examples, cmd_ferry);
    _prof_completer_add(PLUGIN_FILE, "/ferry", subcommands);
    _prof_register_timed(PLUGIN_FILE, on_timer, 1);
    _prof_disco_add_feature(PLUGIN_FILE, (char *)ferry_feature());
    plog("init profanity=%s", version ? version : "?");
    if (fulljid != NULL) /* loaded while connected */
        prof_on_connect(account_name, fulljid);
}

void prof_on_connect(const char *const account_name, const char *const fulljid)
{
    char *comp = setting("component");

    (void)account_name;
    online = 1;
    if (comp != NULL)
        ferry_set_component(fx, comp);
    if (ferry_set_jid(fx, fulljid) != FERRY_RC_OK)
        plog("cannot set jid %s: %s", fulljid, ferry_error(fx));
    plog("online jid=%s component=%s", fulljid, comp ? comp : "(discover)");
    g_free(comp);
}

void prof_on_disconnect(const char *const account_name,
                        const char *const fulljid)
{
    GSList *ts = NULL, *s;
    GList *l;

    (void)account_name;
    (void)fulljid;
    plog("offline");
    /* Offers and answers cannot go on without XMPP: cancel them (a done
     * callback may prune the list, so collect first). */
    for (l = xfer_all(); l; l = l->next) {
        struct xfer *x = l->data;
        if (x->x_t != NULL && x->x_state != X_ACTIVE)
            ts = g_slist_prepend(ts, x->x_t);
    }
    for (s = ts; s; s = s->next)
        ferry_cancel(s->data);
    g_slist_free(ts);
    online = 0;
}

static int feed(const char *stanza)
{
    int r;

    if (fx == NULL)
        return 1;
    r = ferry_handle_xml(fx, stanza);
    pump();
    return r == 1 ? 0 : 1; /* 0: ours, Profanity never sees it */
}

int prof_on_message_stanza_receive(const char *const stanza)
{
    return feed(stanza);
}

int prof_on_iq_stanza_receive(const char *const stanza)
{
    return feed(stanza);
}

/* libferry only looks at presence (a peer coming online gets its offer at
 * once); Profanity always goes on with it. */
int prof_on_presence_stanza_receive(const char *const stanza)
{
    (void)feed(stanza);
    return 1;
}

static void stop(void)
{
    plog("stop");
    ferry_ctx_free(fx);
    fx = NULL;
    xfer_free_all();
    plog_close();
}

void prof_on_shutdown(void)
{
    stop();
}

void prof_on_unload(void)
{
    stop();
}
