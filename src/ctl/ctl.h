/*
 * ctl.h - what the files of wmieventctl share: the exit codes, the options
 * given before the command (struct ctl), the connection to the daemon
 * (client.c), the offline schema (wql.c) and the commands that live in
 * files of their own (wql.c, mofcomp.c).  Internal to src/ctl.
 */
#ifndef WMI_CTL_H
#define WMI_CTL_H

#include <pthread.h>
#include <stdio.h>

#include "wmievent.h"

enum { EXIT_OK = 0, EXIT_WBEM = 1, EXIT_USAGE = 2, EXIT_CONNECT = 3 };

/*
 * struct ctl - the options given before the command, set once by main and
 * read by the commands.
 *   socket_path   -s, else $WMIEVENTD_SOCKET, else the default socket
 *   classes_file  --classes: the extra classes of the offline commands
 *   ns            -N: the requests' "Namespace", or NULL
 */
struct ctl {
    const char *socket_path;
    const char *classes_file;
    const char *ns;
};

/* Print the usage on stderr and exit with EXIT_USAGE (wmieventctl.c). */
_Noreturn void ctl_usage(void);

/* ====================================================================
 * The connection to the daemon (client.c)
 * ==================================================================== */

struct conn {
    int fd;
    FILE *in;
};

/* Connect to @ctl's socket; 0, or -1 with the reason printed. */
int client_connect(const struct ctl *ctl, struct conn *c);
void client_disconnect(struct conn *c);

/* Write all @n bytes of @buf; 0, or -1 with errno set. */
int client_send_all(int fd, const char *buf, size_t n);

/* Send @msg as one compact JSON line; 0 or -1. */
int client_send_json(struct conn *c, json_t *msg);

/* Read replies until the one whose Id is @id; print the others (errors
 * about earlier bare lines).  Returns a new reference or NULL. */
json_t *client_read_reply(struct conn *c, const char *id);

/* Print a reply's error; returns the exit code. */
int client_check_reply(json_t *r);

/* One request, one reply: the exit code, the reply kept in *@out when
 * wanted (new reference).  Takes @req. */
int client_request(const struct ctl *ctl, json_t *req, json_t **out);

/* Add "Namespace" to @req when -N was given; returns @req. */
json_t *client_with_ns(const struct ctl *ctl, json_t *req);

/* Print a WBEM status on stderr: "wmieventctl: [where: ]NAME (0x...): msg",
 * the status's own message when @msg is NULL. */
void client_print_status(wmi_status st, const char *where, const char *msg);

/* A thread that reads the replies of a connection while the main thread
 * writes (`indicate -`): it prints error replies and keeps the final Stats
 * reply (Id "wmieventctl"). */
struct client_reader {
    struct conn *c;
    json_t *final;
    pthread_t thread;
};

/* Start reading @c's replies; 0, or -1 when the thread cannot start. */
int client_reader_start(struct client_reader *rd, struct conn *c);

/* Wait for the reader to end; returns the final reply (new reference) or
 * NULL. */
json_t *client_reader_join(struct client_reader *rd);

/* ====================================================================
 * The offline commands (wql.c, mofcomp.c)
 * ==================================================================== */

/* The built-in classes plus those of @classes_file (an object file, or
 * NULL); exits with EXIT_WBEM when the file cannot be read. */
wmi_schema *wql_load_schema(const char *classes_file);

/* The commands, called as main is: @argv[0] is the command's name. */
int cmd_wql(const struct ctl *ctl, int argc, char **argv);
int cmd_mofcomp(const struct ctl *ctl, int argc, char **argv);

#endif
