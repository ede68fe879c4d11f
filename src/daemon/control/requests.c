/*
 * requests.c - the requests of the control socket.
 *
 * This file owns the method table: the one map from a request's "Method"
 * to its handler, for every method served, Indicate included.  The
 * handlers of the events a connection raises are in ingest.c, those of
 * temporary subscriptions in temporary.c; this file holds the rest: the
 * repository (GetObject, EnumInstances, PutInstance, DeleteInstance,
 * EnumClasses, PutClass, DeleteClass, MofComp), which main.c serves
 * through control_set_repository, and the daemon's own (Reload, Stats,
 * Ping).  docs/protocol.md is the reference of every method.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "daemon/providers/providers.h"
#include "daemon/config/config.h"
#include "daemon/control/internal.h"
#include "daemon/engine/engine.h"

/* ====================================================================
 * The method table
 * ==================================================================== */

static bool req_enum_instances(struct conn *c, const json_t *id, json_t *req);
static bool req_get_object(struct conn *c, const json_t *id, json_t *req);
static bool req_put_instance(struct conn *c, const json_t *id, json_t *req);
static bool req_delete_instance(struct conn *c, const json_t *id, json_t *req);
static bool req_enum_classes(struct conn *c, const json_t *id, json_t *req);
static bool req_put_class(struct conn *c, const json_t *id, json_t *req);
static bool req_delete_class(struct conn *c, const json_t *id, json_t *req);
static bool req_mofcomp(struct conn *c, const json_t *id, json_t *req);
static bool req_reload(struct conn *c, const json_t *id, json_t *req);
static bool req_stats(struct conn *c, const json_t *id, json_t *req);
static bool req_ping(struct conn *c, const json_t *id, json_t *req);

/* Every request the socket serves (method names compare without regard
 * to case). */
static const struct {
    const char *method;
    request_handler *fn;
} requests[] = {
    {"Indicate", req_indicate},
    {"Stats", req_stats},
    {"Ping", req_ping},
    {"EnumInstances", req_enum_instances},
    {"Reload", req_reload},
    {"GetObject", req_get_object},
    {"PutInstance", req_put_instance},
    {"DeleteInstance", req_delete_instance},
    {"EnumClasses", req_enum_classes},
    {"PutClass", req_put_class},
    {"DeleteClass", req_delete_class},
    {"MofComp", req_mofcomp},
    {"SetBatchingParameters", req_set_batching},
    {"ExecNotificationQuery", req_exec_notification_query},
    {"CancelQuery", req_cancel_query},
};

bool
handle_request(struct conn *c, json_t *req)
{
    const json_t *id = json_object_get(req, "Id");
    const char *method = json_string_value(json_object_get(req, "Method"));

    c->ctl->requests++;
    if (method == NULL) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "Method", "\"Method\" must be a string");
        return false;
    }
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++)
        if (strcasecmp(method, requests[i].method) == 0)
            return requests[i].fn(c, id, req);
    char msg[400];
    snprintf(msg, sizeof msg, "unknown method \"%.200s\" (see docs/protocol.md for the methods served)", method);
    reply_error(c, id, WBEM_E_NOT_SUPPORTED, "Method", msg);
    return false;
}

/* ====================================================================
 * The repository: GetObject, EnumInstances, PutInstance, DeleteInstance,
 * EnumClasses, PutClass, DeleteClass, MofComp
 * ==================================================================== */

/* A request's "Namespace" as the repository takes it, which checks the
 * name itself (ingest.c's request_ns resolves it for the others): NULL
 * when absent, false with a reply when not a string. */
static bool
ingest_request_ns_member(struct conn *c, const json_t *id, const json_t *req, const char **ns)
{
    const json_t *v = json_object_get(req, "Namespace");
    *ns = json_string_value(v);
    if (v != NULL && *ns == NULL) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "Namespace", "Namespace is a string (root\\...)");
        return false;
    }
    return true;
}

/* EnumInstances: every instance of a class and its subclasses that the
 * built-in instance providers return (Get-CimInstance). */
static void
enum_one(wmi_object *inst, void *arg)
{
    json_t *list = arg;
    json_t *j = json_copy((json_t *)wmi_object_json(inst));
    char *path = wmi_object_get_path(inst);
    if (j == NULL)
        return;
    if (path != NULL)
        json_object_set_new(j, "__RELPATH", json_string(path));
    free(path);
    json_array_append_new(list, j);
}

static bool
req_enum_instances(struct conn *c, const json_t *id, json_t *req)
{
    const char *cls = json_string_value(json_object_get(req, "ClassName"));
    char msg[300];
    if (cls == NULL) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "ClassName", "EnumInstances needs \"ClassName\": a string");
        return false;
    }
    const char *ns;
    if (!ingest_request_ns_member(c, id, req, &ns))
        return false;
    /* The repository's own objects are listed in their namespace; the
     * instance providers' classes (Win32_Process, ...) are in every one. */
    const struct wmid_instance_provider *ps[16];
    size_t np = instance_providers_for(router_schema(c->ctl->router), cls, ps, 16);
    bool has_repo = false;
    for (size_t i = 0; i < np && i < 16; i++)
        has_repo = has_repo || ps[i] == &wmid_ip_repository;
    has_repo = has_repo && c->ctl->repo.enum_instances != NULL;
    json_t *list = NULL;
    wmi_status st;
    if (has_repo) {
        list = c->ctl->repo.enum_instances(c->ctl->repo.arg, ns, cls, &st);
        if (list == NULL) {
            snprintf(msg, sizeof msg,
                     st == WBEM_E_INVALID_NAMESPACE ? "namespace %.200s does not exist"
                                                    : "no class \"%.200s\" in this namespace",
                     st == WBEM_E_INVALID_NAMESPACE ? ns : cls);
            reply_error(c, id, st, st == WBEM_E_INVALID_NAMESPACE ? "Namespace" : "ClassName", msg);
            return false;
        }
        if (np == 1) {
            json_t *r = status_reply(id, WBEM_S_NO_ERROR);
            json_object_set_new(r, "Instances", list);
            reply(c, r);
            return false;
        }
    } else {
        char nsbuf[WMID_NS_MAX + 1];
        if (!ingest_request_ns(c, id, req, "Namespace", nsbuf))
            return false;
        list = json_array();
    }
    st = instance_enumerate(c->ctl->instances, router_schema(c->ctl->router), cls,
                            has_repo ? &wmid_ip_repository : NULL, enum_one, list);
    if (st == WBEM_E_INVALID_CLASS || st == WBEM_E_NOT_SUPPORTED) {
        snprintf(msg, sizeof msg,
                 st == WBEM_E_INVALID_CLASS ? "no class \"%.200s\"" : "no instance provider serves class \"%.200s\"",
                 cls);
        reply_error(c, id, st, "ClassName", msg);
        json_decref(list);
        return false;
    }
    if (WMI_FAILED(st)) {
        snprintf(msg, sizeof msg, "an instance provider of \"%.200s\" failed", cls);
        reply_error(c, id, st, "ClassName", msg);
        json_decref(list);
        return false;
    }
    json_t *r = status_reply(id, WBEM_S_NO_ERROR);
    json_object_set_new(r, "Instances", list);
    reply(c, r);
    return false;
}

static bool
req_get_object(struct conn *c, const json_t *id, json_t *req)
{
    const char *path = json_string_value(json_object_get(req, "Path"));
    if (path == NULL) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "Path", "GetObject needs \"Path\": an object path");
        return false;
    }
    const char *ns;
    if (!ingest_request_ns_member(c, id, req, &ns))
        return false;
    wmi_status st = WBEM_E_NOT_SUPPORTED;
    json_t *got = c->ctl->repo.get ? c->ctl->repo.get(c->ctl->repo.arg, ns, path, &st) : NULL;
    if (got == NULL && st == WBEM_E_INVALID_NAMESPACE) {
        char msg[400];
        char *pns = NULL;
        ns_split_path(path, &pns);
        snprintf(msg, sizeof msg, "namespace %.300s does not exist", pns ? pns : ns ? ns : "?");
        free(pns);
        reply_error(c, id, st, "Namespace", msg);
        return false;
    }
    if (got == NULL) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s: %.500s",
                 st == WBEM_E_INVALID_OBJECT_PATH ? "not an object path"
                 : st == WBEM_E_INVALID_NAMESPACE ? "no such namespace"
                 : st == WBEM_E_INVALID_CLASS     ? "no such class in the namespace"
                                                  : "no such object",
                 path);
        reply_error(c, id, st, "Path", msg);
        return false;
    }
    json_t *r = status_reply(id, WBEM_S_NO_ERROR);
    json_object_update(r, got);
    json_decref(got);
    reply(c, r);
    return false;
}

/* WBEM_FLAG_CREATE_OR_UPDATE (0), WBEM_FLAG_UPDATE_ONLY (1),
 * WBEM_FLAG_CREATE_ONLY (2), by name or number; -1 otherwise. */
static long
put_flags(const json_t *f)
{
    if (f == NULL)
        return WMID_PUT_CREATE_OR_UPDATE;
    if (json_is_integer(f))
        return json_integer_value(f) >= 0 && json_integer_value(f) <= 2 ? (long)json_integer_value(f) : -1;
    const char *s = json_string_value(f);
    if (s == NULL)
        return -1;
    if (strncmp(s, "WBEM_FLAG_", 10) == 0)
        s += 10;
    return strcmp(s, "CREATE_OR_UPDATE") == 0 ? (long)WMID_PUT_CREATE_OR_UPDATE
           : strcmp(s, "UPDATE_ONLY") == 0    ? (long)WMID_PUT_UPDATE_ONLY
           : strcmp(s, "CREATE_ONLY") == 0    ? (long)WMID_PUT_CREATE_ONLY
                                              : -1;
}

static bool
req_put_instance(struct conn *c, const json_t *id, json_t *req)
{
    const json_t *inst = json_object_get(req, "Instance");
    long flags = put_flags(json_object_get(req, "Flags"));
    const char *ns;
    if (!ingest_request_ns_member(c, id, req, &ns))
        return false;
    if (!json_is_object(inst)) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "Instance", "PutInstance needs \"Instance\": an object");
        return false;
    }
    if (flags < 0) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "Flags",
                    "Flags is WBEM_FLAG_CREATE_OR_UPDATE (0), WBEM_FLAG_UPDATE_ONLY (1) or WBEM_FLAG_CREATE_ONLY (2)");
        return false;
    }
    if (c->ctl->repo.put == NULL) {
        reply_error(c, id, WBEM_E_NOT_SUPPORTED, "Method", "this daemon has no repository");
        return false;
    }
    wmi_error err;
    memset(&err, 0, sizeof err);
    reply_outcome(c, id, c->ctl->repo.put(c->ctl->repo.arg, &c->identity, ns, inst, (unsigned)flags, &err), &err);
    return false;
}

static bool
req_delete_instance(struct conn *c, const json_t *id, json_t *req)
{
    const char *path = json_string_value(json_object_get(req, "Path"));
    if (path == NULL) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "Path", "DeleteInstance needs \"Path\": an object path");
        return false;
    }
    const char *ns;
    if (!ingest_request_ns_member(c, id, req, &ns))
        return false;
    if (c->ctl->repo.del == NULL) {
        reply_error(c, id, WBEM_E_NOT_SUPPORTED, "Method", "this daemon has no repository");
        return false;
    }
    wmi_error err;
    memset(&err, 0, sizeof err);
    reply_outcome(c, id, c->ctl->repo.del(c->ctl->repo.arg, &c->identity, ns, path, &err), &err);
    return false;
}

static bool
req_enum_classes(struct conn *c, const json_t *id, json_t *req)
{
    const json_t *sup = json_object_get(req, "SuperClass");
    const json_t *deep = json_object_get(req, "Deep");
    if ((sup != NULL && !json_is_string(sup)) || (deep != NULL && !json_is_boolean(deep))) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, sup != NULL && !json_is_string(sup) ? "SuperClass" : "Deep",
                    "EnumClasses takes \"SuperClass\" (a class name) and \"Deep\" (true or false)");
        return false;
    }
    const char *ns;
    if (!ingest_request_ns_member(c, id, req, &ns))
        return false;
    wmi_status st = WBEM_E_NOT_SUPPORTED;
    json_t *list = c->ctl->repo.enum_classes ? c->ctl->repo.enum_classes(c->ctl->repo.arg, ns, json_string_value(sup),
                                                                         deep == NULL || json_is_true(deep), &st)
                                             : NULL;
    if (list == NULL) {
        if (st == WBEM_E_INVALID_NAMESPACE)
            reply_error(c, id, st, "Namespace", "no such namespace");
        else
            reply_error(c, id, st, "SuperClass", "no such class in the namespace");
        return false;
    }
    json_t *r = status_reply(id, WBEM_S_NO_ERROR);
    json_object_set_new(r, "Classes", list);
    reply(c, r);
    return false;
}

static bool
req_put_class(struct conn *c, const json_t *id, json_t *req)
{
    const json_t *cls = json_object_get(req, "Class");
    long flags = put_flags(json_object_get(req, "Flags"));
    const char *ns;
    if (!ingest_request_ns_member(c, id, req, &ns))
        return false;
    if (!json_is_object(cls) || flags < 0 || c->ctl->repo.put_class == NULL) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, !json_is_object(cls) ? "Class" : "Flags",
                    "PutClass needs \"Class\": a class definition (docs/configuration.md), and valid \"Flags\"");
        return false;
    }
    wmi_error err;
    memset(&err, 0, sizeof err);
    reply_outcome(c, id, c->ctl->repo.put_class(c->ctl->repo.arg, &c->identity, ns, cls, (unsigned)flags, &err), &err);
    return false;
}

static bool
req_delete_class(struct conn *c, const json_t *id, json_t *req)
{
    const char *name = json_string_value(json_object_get(req, "ClassName"));
    const char *ns;
    if (!ingest_request_ns_member(c, id, req, &ns))
        return false;
    if (name == NULL || c->ctl->repo.del_class == NULL) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "ClassName", "DeleteClass needs \"ClassName\"");
        return false;
    }
    wmi_error err;
    memset(&err, 0, sizeof err);
    reply_outcome(c, id, c->ctl->repo.del_class(c->ctl->repo.arg, &c->identity, ns, name, &err), &err);
    return false;
}

/* MofComp: what wmieventctl compiled (the MOF compiler runs in the
 * client, which reads the files and their includes), applied here all or
 * nothing.  The daemon never opens a file a request names. */
static bool
req_mofcomp(struct conn *c, const json_t *id, json_t *req)
{
    const json_t *ops = json_object_get(req, "Operations");
    if (!json_is_array(ops) || c->ctl->repo.mofcomp == NULL) {
        reply_error(c, id, WBEM_E_INVALID_PARAMETER, "Operations",
                    "MofComp needs \"Operations\": the compiled operations (wmieventctl mofcomp sends them)");
        return false;
    }
    wmi_error err;
    size_t n = 0;
    memset(&err, 0, sizeof err);
    if (!c->ctl->repo.mofcomp(c->ctl->repo.arg, &c->identity, ops, &n, &err)) {
        reply_wmi_error(c, id, &err);
        return false;
    }
    json_t *r = status_reply(id, WBEM_S_NO_ERROR);
    json_object_set_new(r, "Applied", json_integer((json_int_t)n));
    reply(c, r);
    return false;
}

void
control_set_repository(struct wmid_control *c, const struct wmid_repo_ops *ops)
{
    c->repo = *ops;
}

/* ====================================================================
 * The daemon: Reload, Stats, Ping
 * ==================================================================== */

/* Reload re-reads files that only their owner can change, but it is not
 * free (plugins may load, pollers restart): only root and the daemon's own
 * user may ask for it, as only they may send SIGHUP. */
static bool
req_reload(struct conn *c, const json_t *id, json_t *req)
{
    (void)req;
    struct wmid_control *ctl = c->ctl;
    if (c->uid != 0 && c->uid != (long)getuid()) {
        reply_error(c, id, WBEM_E_ACCESS_DENIED, "Method",
                    "Reload is allowed to root and to the daemon's own user only");
        return false;
    }
    if (ctl->reload == NULL) {
        reply_error(c, id, WBEM_E_NOT_SUPPORTED, "Method", "this daemon cannot reload");
        return false;
    }
    wmi_error err;
    size_t n = 0;
    memset(&err, 0, sizeof err);
    if (!ctl->reload(ctl->reload_arg, &err, &n)) {
        json_t *r = status_reply(id, err.status ? err.status : WBEM_E_FAILED);
        json_object_set_new(r, "Message", json_string(err.text));
        if (err.source[0])
            json_object_set_new(r, "Source", json_string(err.source));
        if (err.line > 0) {
            json_object_set_new(r, "Line", json_integer(err.line));
            json_object_set_new(r, "Column", json_integer(err.column));
        }
        count_error(ctl, c, err.status ? err.status : WBEM_E_FAILED, err.source, err.text);
        reply(c, r);
        return false;
    }
    json_t *r = status_reply(id, WBEM_S_NO_ERROR);
    json_object_set_new(r, "Objects", json_integer((json_int_t)n));
    reply(c, r);
    return false;
}

void
control_set_reload(struct wmid_control *c, bool (*fn)(void *arg, wmi_error *err, size_t *nobjects), void *arg)
{
    c->reload = fn;
    c->reload_arg = arg;
}

/* Stats' "connections" member (new object). */
static json_t *
connections_stats_json(struct wmid_control *ctl)
{
    json_t *o = json_pack("{sIsIsIsIsIsIsIsIsIsIsO}", "accepted", (json_int_t)ctl->accepted, "open",
                          (json_int_t)ctl->nopen, "lines", (json_int_t)ctl->lines, "events",
                          (json_int_t)ctl->events, "refused", (json_int_t)ctl->refused, "requests",
                          (json_int_t)ctl->requests, "errors", (json_int_t)ctl->errors, "replies_paused",
                          (json_int_t)ctl->replies_paused, "paused", (json_int_t)ctl->paused,
                          "refused_connections", (json_int_t)ctl->refused_connections, "errors_by_status",
                          ctl->errors_by_status);
    if (ctl->last_error[0])
        json_object_set_new(o, "last_error", json_string(ctl->last_error));
    return o;
}

static bool
req_stats(struct conn *c, const json_t *id, json_t *req)
{
    struct wmid_control *ctl = c->ctl;
    (void)req;
    json_t *r = status_reply(id, WBEM_S_NO_ERROR);
    json_t *stats = router_stats_json(ctl->router);
    json_object_set_new(stats, "connections", connections_stats_json(ctl));
    json_object_set_new(stats, "queued_bytes", json_integer((json_int_t)delivery_queued_bytes(ctl->delivery)));
    json_object_set_new(stats, "delivery", delivery_stats_json(ctl->delivery));
    json_object_set_new(stats, "builtin_event_providers", eventprov_builtin_stats_json(ctl->eventprov));
    json_object_set_new(stats, "temporary", temp_stats_json(ctl));
    json_object_set_new(r, "Stats", stats);
    /* The asking connection's own counts, so that a producer can learn
     * what happened to the bare events it sent. */
    json_t *mine = json_pack("{sIsIsI}", "id", (json_int_t)c->id, "events", (json_int_t)c->events, "refused",
                             (json_int_t)c->refused);
    if (c->last_error[0])
        json_object_set_new(mine, "last_error", json_string(c->last_error));
    json_object_set_new(r, "Connection", mine);
    reply(c, r);
    return false;
}

static bool
req_ping(struct conn *c, const json_t *id, json_t *req)
{
    (void)req;
    reply(c, status_reply(id, WBEM_S_NO_ERROR));
    return false;
}
